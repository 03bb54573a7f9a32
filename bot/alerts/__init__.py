"""Alerts from the tools people already run, shown in Slack with Pause and Terminate (§4.4, §4.7).

    formats    one parser per body format, keyed by route: native, alertmanager, grafana (pure)
    board      one message per (channel, pipeline, run): posted once, then updated, resolved
    endpoint   token, shared rate limit, body limits, and the answer (per alert for webhooks)

`web` only routes to the endpoints; `app` builds them. A click on an alert's button is an
ordinary button click (`bot.slack.actions`): the same checks, modal and attempt as a command.
"""
