"""The developer kit: local fakes, the local stack, the sandbox and Slack payload builders.

Not part of the shipped package (the wheel ships `bot` only): the tests, the benchmark and
`make sandbox` import it from a checkout. It may import `bot`; nothing under `bot/` imports it
(tests/test_architecture.py enforces that).

    fakes/      FakeSlack (Web API, response_urls), FakeVectorShift, the servers that run them
    payloads    signed Slack requests: body builders, `sign()`, `SlackClient`
    render      Block Kit and recorded calls as the text each person would see
    slack_html  Block Kit as HTML pages that look like Slack (messages, modals)
    stack       `LocalStack`: the real `vs-terminate-bot serve` process against the fakes
    sandbox/    `python -m devkit.sandbox`: a scripted or interactive session against the stack
    pictures/   `python -m devkit.pictures OUTDIR` (`make pictures`): scenes against the stack,
                each drawn with slack_html and screenshotted with headless Chromium
    alertmanager  `AlertmanagerProcess`: the real prometheus-alertmanager as a webhook client;
                `WebhookReceiver` records what it posts (facts in ALERTMANAGER_NOTES.md)
    alertmanager_fixtures  records real Alertmanager bodies into tests/fixtures/alertmanager/
"""
