# Template file (copier-mlops): `copier update` merges new versions into it.
# CloudWatch alarms that mirror the Prometheus alert rules, with the values of
# monitoring/thresholds.yml (edit the thresholds there; `make deploy` applies them).
# The load balancer measures every request, so these count all routes where the
# Prometheus rules look at /predict. Low-confidence predictions and feature drift are
# the service's own metrics (/metrics) and have no CloudWatch counterpart here.
locals {
  thresholds     = yamldecode(file("${path.module}/../../monitoring/thresholds.yml"))
  window_seconds = local.thresholds.rate_window_minutes * 60
  window_periods = max(1, ceil(local.thresholds.for_minutes / local.thresholds.rate_window_minutes))
  target_group = {
    LoadBalancer = aws_lb.api.arn_suffix
    TargetGroup  = aws_lb_target_group.api.arn_suffix
  }
  # Share of requests answered with a status class: errors (5XX) and rejections (4XX).
  shares = {
    error-rate = {
      metric      = "HTTPCode_Target_5XX_Count"
      threshold   = local.thresholds.max_error_rate
      description = "More than max_error_rate of the requests fail with a server error"
    }
    rejected-share = {
      metric      = "HTTPCode_Target_4XX_Count"
      threshold   = local.thresholds.max_rejected_share
      description = "More than max_rejected_share of the requests are rejected (4xx: the sanity checks answer 422)"
    }
  }
}

resource "aws_sns_topic" "alarms" {
  name              = "${local.name}-alarms"
  kms_master_key_id = aws_kms_key.main.arn
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alarm_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

resource "aws_cloudwatch_metric_alarm" "share" {
  for_each            = local.shares
  alarm_name          = "${local.name}-${each.key}"
  alarm_description   = "${each.value.description} (monitoring/thresholds.yml)."
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  evaluation_periods  = local.window_periods
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "share"
    expression  = "IF(requests > 0, failures / requests, 0)"
    label       = each.key
    return_data = true
  }

  metric_query {
    id = "failures"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = each.value.metric
      dimensions  = local.target_group
      period      = local.window_seconds
      stat        = "Sum"
    }
  }

  metric_query {
    id = "requests"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = local.target_group
      period      = local.window_seconds
      stat        = "Sum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "latency" {
  alarm_name          = "${local.name}-p95-latency"
  alarm_description   = "95th percentile response time above max_p95_latency_seconds (monitoring/thresholds.yml)."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = local.target_group
  extended_statistic  = "p95"
  period              = local.window_seconds
  evaluation_periods  = local.window_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = local.thresholds.max_p95_latency_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "no_requests" {
  alarm_name          = "${local.name}-no-requests"
  alarm_description   = "No request served for max_minutes_without_predictions (monitoring/thresholds.yml)."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "RequestCount"
  dimensions          = local.target_group
  statistic           = "Sum"
  period              = local.thresholds.max_minutes_without_predictions * 60
  evaluation_periods  = 1
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "service_down" {
  alarm_name          = "${local.name}-service-down"
  alarm_description   = "No healthy task behind the load balancer for service_down_minutes (monitoring/thresholds.yml)."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HealthyHostCount"
  dimensions          = local.target_group
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = local.thresholds.service_down_minutes
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}
