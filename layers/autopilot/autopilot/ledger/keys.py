"""Every key of the ledger table, and the only place its prefixes are spelled (PK, SK):

- `INDEX#REPO#<registry>/<repo>`, `<cluster>/<service>`  one index entry: this service uses this repository
- `INDEX#SERVICES`, `<cluster>/<service>`                 the repositories a service was indexed under
- `SERVICE#<cluster>/<service>`, `STATE`                  frozen flag, quarantined digests, deployed images
                                                          (each the decision of one push: tag, digest, revision,
                                                          event id), loop-guard rollback times
- `SERVICE#<cluster>/<service>`, `DEPLOY#<push time>#<event id>`  one deployment we decided (same key on retries)
- `SERVICE#<cluster>/<service>`, `ECSDEPLOY#<deployment id>`      an ECS deployment's status changes and outcome
- `SERVICE#<cluster>/<service>`, `ROLLBACK#<bad revision>`        the one rollback of an incident: a lease
                                                          (CLAIMED, `lease_until`, `owner_id`) until DONE
- `SERVICE#<cluster>/<service>`, `MANUAL#<time>`          an operator's rollback
- `SERVICE#<cluster>/<service>`, `OBSERVED#<time>#<id>`   what observe mode would have done
- `SERVICE#<cluster>/<service>`, `APPROVAL#<id>`          a push held for approval, and who decided
- `SERVICE#<cluster>/<service>`, `ACTION#<key>`           a person's action from chat (who, what, outcome)
- `PUSH#<event id>`, `FANOUT`                              a push handed to work items: totals, counts, families
                                                          done (TTL)
- `TAKEN#<registry>/<repo>`, `<digest>#<tag>`             a push DeployFunction took (the reconciler's check, TTL)
- `RECONCILER`, `BASELINE`                                 the repositories the reconciler has looked at before
- `SLACKREQ#<sha256 of the signature>`, `-`               a Slack request taken (the replay cache, TTL)
- `LIFECYCLE#<group>`, `<instance>#<token>`               one terminate lifecycle action: lease, then DONE with
                                                          the generation of its wait, `completed` at the end
- `STOPS#<subject>`, `<stop class>`                       stopped-task counter of one window
- `THREAD#<route>`, `<thread key>`                        the chat message a thread lives in
- `DELIVERED#<route>`, `<message id>`                     a message that reached a route
- `IDEMPOTENCY#<function>`, `<hash>`                      Powertools idempotency records (TTL `expiration`)
"""

from __future__ import annotations

import hashlib

from autopilot.refs import RepositoryRef, ServiceRef

SERVICES_INDEX_PK = "INDEX#SERVICES"
FANOUT_SK = "FANOUT"
RECONCILER_PK, RECONCILER_SK = "RECONCILER", "BASELINE"
STATE_SK = "STATE"
ROLLBACK_PREFIX = "ROLLBACK#"
MANUAL_PREFIX = "MANUAL#"
OBSERVED_PREFIX = "OBSERVED#"
_DEPLOY = "DEPLOY#"
_ECS_DEPLOY = "ECSDEPLOY#"
_APPROVAL = "APPROVAL#"
_ACTION = "ACTION#"


def idempotency_pk(scope: str) -> str:
    return f"IDEMPOTENCY#{scope}"


def repo_pk(repository: RepositoryRef) -> str:
    return repo_pk_of_key(repository.key)


def repo_pk_of_key(repository_key: str) -> str:
    return f"INDEX#REPO#{repository_key}"


def taken_pk(repository: RepositoryRef) -> str:
    return f"TAKEN#{repository.key}"


def taken_sk(digest: str, tag: str) -> str:
    return f"{digest}#{tag}"


def push_pk(event_id: str) -> str:
    return f"PUSH#{event_id}"


def service_pk(ref: ServiceRef) -> str:
    return f"SERVICE#{ref.key}"


def image_attribute(repository: RepositoryRef) -> str:
    return f"image:{repository.key}"


def deploy_prefix() -> str:
    return _DEPLOY


def deploy_sk(pushed_at: str, event_id: str) -> str:
    return f"{_DEPLOY}{pushed_at}#{event_id}"


def ecs_deployment_sk(deployment_id: str) -> str:
    return f"{_ECS_DEPLOY}{deployment_id}"


def rollback_sk(bad_revision: str) -> str:
    return f"{ROLLBACK_PREFIX}{bad_revision}"


def manual_sk(at: str) -> str:
    return f"{MANUAL_PREFIX}{at}"


def observed_sk(at: str, subject: str) -> str:
    return f"{OBSERVED_PREFIX}{at}#{subject}"


def lifecycle_key(group: str, instance: str, token: str) -> tuple[str, str]:
    return f"LIFECYCLE#{group}", f"{instance}#{token}"


def stops_pk(subject: str) -> str:
    return f"STOPS#{subject}"


def approval_sk(approval_id: str) -> str:
    return f"{_APPROVAL}{approval_id}"


def action_sk(key: str) -> str:
    return f"{_ACTION}{key}"


def approval_prefix() -> str:
    return _APPROVAL


def slack_request_pk(signature: str) -> str:
    """One Slack request, by a digest of its signature (the replay cache)."""
    return "SLACKREQ#" + hashlib.sha256(signature.encode()).hexdigest()


def thread_pk(route: str) -> str:
    return f"THREAD#{route}"


def delivered_pk(route: str) -> str:
    return f"DELIVERED#{route}"


def record_kind(sort_key: str) -> str:
    """What a row of a service's history is, from its sort key: deployment (ours), ecs-deployment, rollback,
    manual-rollback, observation, approval, action, state."""
    for prefix, kind in (
        (_ECS_DEPLOY, "ecs-deployment"),
        (_DEPLOY, "deployment"),
        (ROLLBACK_PREFIX, "rollback"),
        (MANUAL_PREFIX, "manual-rollback"),
        (OBSERVED_PREFIX, "observation"),
        (_APPROVAL, "approval"),
        (_ACTION, "action"),
    ):
        if sort_key.startswith(prefix):
            return kind
    return "state" if sort_key == STATE_SK else "other"
