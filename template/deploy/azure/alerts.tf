# Template file (copier-mlops): `copier update` merges new versions into it.
# Azure Monitor alerts that mirror the Prometheus alert rules, with the values of
# monitoring/thresholds.yml (edit the thresholds there; `make deploy` applies them).
# They read the service's JSON request log in Log Analytics (event "request", with
# path, status and latency_ms), so they look at /predict exactly as the rules do.
# Low-confidence predictions and feature drift are the service's own metrics
# (/metrics) and have no log counterpart here.
locals {
  thresholds = yamldecode(file("${path.module}/../../monitoring/thresholds.yml"))

  # Log alert windows Azure accepts, in minutes; each threshold takes the next one up.
  windows = [1, 5, 10, 15, 30, 45, 60, 120, 180, 240, 300, 360]
  window  = [for w in local.windows : w if w >= local.thresholds.rate_window_minutes][0]
  quiet   = [for w in local.windows : w if w >= local.thresholds.max_minutes_without_predictions][0]
  down    = [for w in local.windows : w if w >= local.thresholds.service_down_minutes][0]
  periods = max(1, ceil(local.thresholds.for_minutes / local.window))

  # One row per request the service logged.
  requests = <<-KQL
    ContainerAppConsoleLogs_CL
    | where ContainerAppName_s == "${azurerm_container_app.api.name}"
    | extend entry = parse_json(Log_s)
    | where tostring(entry.event) == "request"
    | extend path = tostring(entry.path), status = toint(entry.status), latency_ms = todouble(entry.latency_ms)
  KQL

  predictions = "${local.requests}| where path == \"/predict\"\n"

  # The threshold queries return a row only while the threshold is crossed; the
  # absence queries return the requests, and alert when there are none.
  alerts = {
    error-rate = {
      description = "More than max_error_rate of the requests fail with a server error"
      severity    = 1
      window      = local.window
      periods     = local.periods
      query       = "${local.requests}| summarize share = 1.0 * countif(status >= 500) / count()\n| where share > ${local.thresholds.max_error_rate}\n"
      operator    = "GreaterThanOrEqual"
    }
    p95-latency = {
      description = "95th percentile /predict latency above max_p95_latency_seconds"
      severity    = 2
      window      = local.window
      periods     = local.periods
      query       = "${local.predictions}| summarize p95 = percentile(latency_ms, 95)\n| where p95 > ${local.thresholds.max_p95_latency_seconds * 1000}\n"
      operator    = "GreaterThanOrEqual"
    }
    rejected-share = {
      description = "More than max_rejected_share of /predict requests fail the sanity checks (422)"
      severity    = 2
      window      = local.window
      periods     = local.periods
      query       = "${local.predictions}| summarize share = 1.0 * countif(status == 422) / count()\n| where share > ${local.thresholds.max_rejected_share}\n"
      operator    = "GreaterThanOrEqual"
    }
    no-predictions = {
      description = "No prediction served for max_minutes_without_predictions"
      severity    = 2
      window      = local.quiet
      periods     = 1
      query       = local.predictions
      operator    = "LessThan"
    }
    service-down = {
      description = "The service answered no probe for service_down_minutes"
      severity    = 1
      window      = local.down
      periods     = 1
      query       = "${local.requests}| where path == \"/health\"\n"
      operator    = "LessThan"
    }
  }
}

resource "azurerm_monitor_action_group" "alerts" {
  name                = "ag-${local.name}"
  resource_group_name = azurerm_resource_group.main.name
  short_name          = substr(replace(var.name, "-", ""), 0, 12)

  dynamic "email_receiver" {
    for_each = var.alert_email == "" ? [] : [var.alert_email]
    content {
      name                    = "team"
      email_address           = email_receiver.value
      use_common_alert_schema = true
    }
  }
}

resource "azurerm_monitor_scheduled_query_rules_alert_v2" "service" {
  for_each             = local.alerts
  name                 = "${local.name}-${each.key}"
  resource_group_name  = azurerm_resource_group.main.name
  location             = azurerm_resource_group.main.location
  description          = "${each.value.description} (monitoring/thresholds.yml)."
  severity             = each.value.severity
  scopes               = [azurerm_log_analytics_workspace.main.id]
  window_duration      = each.value.window < 60 ? "PT${each.value.window}M" : "PT${each.value.window / 60}H"
  evaluation_frequency = each.value.window < 60 ? "PT${each.value.window}M" : "PT1H"

  criteria {
    query                   = each.value.query
    time_aggregation_method = "Count"
    operator                = each.value.operator
    threshold               = 1

    failing_periods {
      number_of_evaluation_periods             = each.value.periods
      minimum_failing_periods_to_trigger_alert = each.value.periods
    }
  }

  action {
    action_groups = [azurerm_monitor_action_group.alerts.id]
  }
}
