"""The layout `terraform fmt` writes, checked without a terraform binary (none installs here).

The rules are those of HashiCorp's canonical style as `terraform fmt` applies them:
two spaces per nesting level, no tabs or trailing spaces, one newline at the end and no
runs of blank lines, `=` of consecutive one-line arguments in a block aligned one space
after the longest name, an argument whose value spans lines not aligned (one space
before `=`), one space after `=`, and block headers as `type "label" {`. Heredoc bodies
are left as written, as `terraform fmt` leaves them.
"""

import re
from dataclasses import dataclass

ARGUMENT = re.compile(
    r'^(?P<name>[A-Za-z_][\w-]*|"[^"]*")(?P<gap> *)=(?!=)(?P<after> *)(?P<value>.*)$'
)
BLOCK = re.compile(r'^[A-Za-z_][\w-]*( ("[^"]*"|[A-Za-z_][\w-]*))* \{$')
HEREDOC = re.compile(r"<<-?([A-Za-z_]\w*)\s*\)?$")
OPENERS, CLOSERS = "{[(", "}])"


@dataclass
class Line:
    number: int
    text: str
    level: int  # indentation level the line should have
    opens: bool  # leaves a bracket open: a value or block that spans lines


def code_of(text: str) -> str:
    """The line with string contents and comments blanked out, brackets kept."""
    out, stack, i = [], [], 0  # stack holds '"' for strings and '${' for interpolations
    while i < len(text):
        char = text[i]
        in_string = bool(stack) and stack[-1] == '"'
        if in_string:
            if char == "\\":
                out.append("__")
                i += 2
                continue
            if text.startswith("${", i) or text.startswith("%{", i):
                stack.append("${")
                out.append("  ")
                i += 2
                continue
            if char == '"':
                stack.pop()
            out.append(" " if char != '"' else '"')
            i += 1
            continue
        if char == '"':
            stack.append('"')
            out.append('"')
        elif char == "#" or text.startswith("//", i):
            break
        elif char == "}" and stack and stack[-1] == "${":
            stack.pop()
            out.append(" ")
        else:
            out.append(char)
        i += 1
    return "".join(out)


def parse(source: str) -> tuple[list[Line], set[int]]:
    """Lines with their expected level. As in `terraform fmt`, brackets opened on one line
    count as one level together (`jsonencode({` indents its body once)."""
    lines, heredoc_lines, heredoc = [], set(), None
    open_on: list[int] = []  # the line number that opened each open bracket
    for number, text in enumerate(source.split("\n")[:-1], start=1):
        if heredoc is not None:
            heredoc_lines.add(number)
            if text.strip() == heredoc:
                heredoc = None
            continue
        code = code_of(text).strip()
        leading = len(code) - len(code.lstrip(CLOSERS))
        level = len(set(open_on[: len(open_on) - leading]))
        for char in code:
            if char in OPENERS:
                open_on.append(number)
            elif char in CLOSERS and open_on:
                open_on.pop()
        lines.append(Line(number, text, level, number in open_on))
        match = HEREDOC.search(code)
        if match:
            heredoc = match.group(1)
    return lines, heredoc_lines


def layout_errors(source: str) -> list[str]:
    """What `terraform fmt` would change in `source`, one message per problem."""
    errors = []
    if not source.endswith("\n") or source.endswith("\n\n"):
        errors.append("the file must end with exactly one newline")
    if source.startswith("\n"):
        errors.append("the file starts with a blank line")
    lines, heredoc = parse(source)
    previous_blank = False
    for line in lines:
        where = f"line {line.number}"
        text = line.text
        if "\t" in text:
            errors.append(f"{where}: tab character")
        if text != text.rstrip():
            errors.append(f"{where}: trailing whitespace")
        blank = not text.strip()
        if blank and previous_blank:
            errors.append(f"{where}: more than one blank line in a row")
        previous_blank = blank
        if blank:
            continue
        indent = len(text) - len(text.lstrip(" "))
        expected = 2 * line.level
        if indent != expected:
            errors.append(f"{where}: indented {indent} spaces, expected {expected}")
        body = text.strip()
        header = body.endswith("{") and "=" not in code_of(body)
        if header and not BLOCK.match(body) and body not in ("{", "[{"):
            errors.append(f'{where}: block header is not `type "label" {{`: {body}')
    errors += alignment_errors([line for line in lines if line.number not in heredoc])
    return errors


def alignment_errors(lines: list[Line]) -> list[str]:
    errors, group = [], []

    def close_group() -> None:
        if group:
            width = max(len(match.group("name")) for _, match in group)
            for line, match in group:
                gap = len(match.group("gap"))
                want = width - len(match.group("name")) + 1
                if gap != want:
                    errors.append(
                        f"line {line.number}: `=` of {match.group('name')} not aligned "
                        f"with the arguments around it ({gap} spaces before it, expected {want})"
                    )
            group.clear()

    for line in lines:
        body = line.text.strip()
        match = ARGUMENT.match(body)
        if not match:
            close_group()
            continue
        if len(match.group("after")) != 1 and match.group("value"):
            errors.append(f"line {line.number}: expected one space after `=`")
        if group and group[-1][0].level != line.level:
            close_group()
        if line.opens:
            # A value spanning lines is never aligned: one space before `=`.
            close_group()
            if len(match.group("gap")) != 1:
                errors.append(f"line {line.number}: one space before `=` of a multi-line value")
            continue
        if group and group[-1][0].number != line.number - 1:
            close_group()
        group.append((line, match))
    close_group()
    return errors
