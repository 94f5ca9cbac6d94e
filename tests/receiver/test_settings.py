"""Receiver settings: the shipped examples load, mistakes fail at load, secrets stay hidden."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from incident.models import Alert, AlertSource
from receiver.routing import RoutingRules
from receiver.settings import ReceiverSettings, load_routing

DEPLOYMENTS = Path(__file__).resolve().parents[2] / "deployments"


def test_the_shipped_receiver_settings_load_with_their_routing_file() -> None:
    settings = ReceiverSettings.from_yaml(DEPLOYMENTS / "receiver.yaml")

    assert settings.port == 8686
    assert settings.routing == load_routing(DEPLOYMENTS / "routing.yaml")
    assert settings.routing.routes and settings.routing.default_deployment == "respond/respond"


EXAMPLE_ROUTES = [
    # (alert name, labels, source) -> (route, deployment, extra parameters)
    ("PostgresConnectionsExhausted", {"service": "orders"}, AlertSource.ALERTMANAGER,
     "db-pool-exhaustion", "db-pool-exhaustion/db-pool-exhaustion", {"database": "orders-db"}),
    ("PostgresReplicationLag", {"service": "payments-api"}, AlertSource.GRAFANA,
     "payments-db", "db-pool-exhaustion/db-pool-exhaustion", {"database": "payments-db"}),
    ("PostgresReplicationLag", {"service": "paymentsx"}, AlertSource.GRAFANA,
     "default", "respond/respond", {}),
    ("The server is on fire.", {}, AlertSource.PAGERDUTY, "pagerduty", "respond/respond", {}),
    ("HighLatency", {"service": "web"}, AlertSource.ALERTMANAGER,
     "default", "respond/respond", {}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "labels", "source", "route", "deployment", "extra"), EXAMPLE_ROUTES
)
def test_the_example_routing_rules_send_each_alert_where_the_runbooks_say(
    name: str,
    labels: dict[str, str],
    source: AlertSource,
    route: str,
    deployment: str,
    extra: dict[str, str],
) -> None:
    rules = load_routing(DEPLOYMENTS / "routing.yaml")

    decision = rules.decide(Alert(name=name, labels=labels, source=source))

    assert (decision.route, decision.deployment, decision.parameters) == (route, deployment, extra)


def test_a_rule_with_group_by_merges_the_same_problem_from_two_senders() -> None:
    rules = load_routing(DEPLOYMENTS / "routing.yaml")
    labels = {"service": "orders", "instance": "db-1"}
    from_am = Alert(name="PostgresConnectionsExhausted", labels=labels, group_key="{}:{a}")
    from_grafana = from_am.model_copy(update={"source": AlertSource.GRAFANA, "group_key": "g"})
    other_service = from_am.model_copy(update={"labels": {"service": "search"}})

    keys = [rules.decide(a).key for a in (from_am, from_grafana, other_service)]

    assert keys[0] == keys[1] != keys[2]


def test_without_a_rule_the_senders_own_group_is_the_incident_key() -> None:
    rules = RoutingRules()
    first = Alert(name="A", source=AlertSource.ALERTMANAGER, group_key="{}:{x}")
    same_group = first.model_copy(update={"name": "B", "labels": {"i": "2"}})
    other_sender = first.model_copy(update={"source": AlertSource.GRAFANA})

    keys = [rules.decide(a).key for a in (first, same_group, other_sender)]

    assert keys[0] == keys[1] != keys[2]


@pytest.mark.parametrize(
    ("routing", "words"),
    [
        ({"routes": [{"name": "x", "match": {"alertname": "(unclosed"}, "deployment": "a/b"}]},
         "not a valid regular expression"),
        ({"routes": [{"name": "x", "deployment": "no-slash"}]}, "deployment"),
        ({"routes": [{"name": "x", "deployment": "a/b"}, {"name": "x", "deployment": "a/c"}]},
         "repeated: ['x']"),
        ({"routes": [{"name": "x", "deployment": "a/b", "mtach": {}}]}, "mtach"),
    ],
)  # fmt: skip
def test_a_broken_routing_rule_fails_when_the_receiver_starts_and_names_the_problem(
    routing: dict[str, object], words: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        ReceiverSettings(record_dsn="postgresql://x@h/db", routing=routing)

    assert words in str(caught.value)


def test_a_misspelt_setting_is_refused_rather_than_ignored(tmp_path: Path) -> None:
    path = tmp_path / "receiver.yaml"
    path.write_text("record_dsn: postgresql://x@h/db\nsorces: {}\n")

    with pytest.raises(ValidationError, match="sorces"):
        ReceiverSettings.from_yaml(path)


def test_the_environment_overrides_the_file_so_secrets_need_not_be_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "receiver.yaml"
    path.write_text("record_dsn: postgresql://x@h/db\nport: 9000\n")
    monkeypatch.setenv("FIREBREAK_RECEIVER_PORT", "9100")
    monkeypatch.setenv("FIREBREAK_RECEIVER_SOURCES__ALERTMANAGER__BEARER_TOKENS", '["s3cret"]')
    monkeypatch.setenv("FIREBREAK_RECEIVER_SLACK__SIGNING_SECRET", "slack-s3cret")

    settings = ReceiverSettings.from_yaml(path)

    assert settings.port == 9100
    assert [t.get_secret_value() for t in settings.sources.alertmanager.bearer_tokens] == ["s3cret"]
    assert settings.slack.enabled
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.model_dump())


def test_a_settings_file_that_is_not_yaml_says_which_file(tmp_path: Path) -> None:
    path = tmp_path / "receiver.yaml"
    path.write_text("record_dsn: [unclosed\n")

    with pytest.raises(ValueError, match=r"receiver\.yaml"):
        ReceiverSettings.from_yaml(path)
