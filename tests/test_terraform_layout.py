"""The `terraform fmt` layout checker (tests/terraform_layout.py) accepts what fmt writes
and names each thing fmt would change."""

import pytest

from tests.terraform_layout import layout_errors

# Written the way `terraform fmt` leaves it: aligned runs of one-line arguments, a value
# spanning lines (`jsonencode({`, `{`) outside any run, brackets opened together indented
# once, a heredoc (aligned like a one-line argument) left as written.
FORMATTED = """\
locals {
  name  = "${var.name}-${var.environment}"
  https = var.certificate_arn != ""
  tags = {
    Project = var.name
  }
}

resource "aws_iam_role" "example" {
  name                 = "${local.name}-deploy"
  max_session_duration = 3600

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Allow"
        Principal = { Service = "ecs-tasks.amazonaws.com" }
        Action    = "sts:AssumeRole"
      },
    ]
  })
}

resource "aws_launch_template" "gpu" {
  name_prefix = "gpu-"
  user_data   = <<-EOT
    #!/bin/bash
   echo "heredoc bodies keep their own layout"
  EOT
}
"""


def test_accepts_what_terraform_fmt_writes():
    assert layout_errors(FORMATTED) == []


@pytest.mark.parametrize(
    ("before", "after", "message"),
    [
        ("  https = var", "  https   = var", "`=` of https not aligned"),
        ('  name  = "${var', '  name = "${var', "`=` of name not aligned"),
        ("  tags = {", "  tags  = {", "one space before `=` of a multi-line value"),
        ('    Version = "2012', '      Version = "2012', "indented 6 spaces, expected 4"),
        ("  })\n}", "  })\n  }", "indented 2 spaces, expected 0"),
        ("  max_session_duration = 3600", "  max_session_duration =  3600", "one space after"),
        ('resource "aws_iam_role" "example" {', 'resource "aws_iam_role"  "example" {', "header"),
        ("  https = var.certificate_arn", "\thttps = var.certificate_arn", "tab character"),
        ('  name_prefix = "gpu-"', '  name_prefix = "gpu-"  ', "trailing whitespace"),
        ('}\n\nresource "aws_launch', '}\n\n\nresource "aws_launch', "more than one blank"),
    ],
)
def test_names_what_terraform_fmt_would_change(before, after, message):
    assert before in FORMATTED
    errors = layout_errors(FORMATTED.replace(before, after, 1))
    assert any(message in error for error in errors), errors


def test_the_file_ends_with_one_newline():
    assert layout_errors(FORMATTED.rstrip("\n")) == ["the file must end with exactly one newline"]
    assert "the file must end with exactly one newline" in layout_errors(FORMATTED + "\n")
