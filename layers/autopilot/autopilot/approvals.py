"""A person's decision on a push held for approval (autopilot:approval=required), from chat.

Approve deploys the held push through the same code path as an automatic deploy, checked again against the
service's state at that moment (never downgrade, frozen, quarantined digests, policy). Deciding is a
conditional write, and the deploy is idempotent per push: a double click, Slack's retry of the request or a
retry after a failure deploys once. Reject, and approving after the expiry, change nothing in ECS.
"""

from __future__ import annotations

from enum import StrEnum

from autopilot.config.service_tags import parse_service_tags
from autopilot.deploy import DeployPorts, DeployReport, deploy_pushed_image, tell_approval
from autopilot.events import EcrImageActionEvent
from autopilot.model import Model
from autopilot.refs import ServiceRef


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class DecisionReport(Model):
    service: str
    approval_id: str
    outcome: str  # APPROVED, REJECTED, NOT_FOUND, EXPIRED, ALREADY_DECIDED
    reason: str
    deploy: DeployReport | None = None


def decide(ref: ServiceRef, approval_id: str, decision: Decision, user: str, ports: DeployPorts) -> DecisionReport:
    """Record `user`'s decision and carry it out; the approval's message is updated in place with who decided."""
    now = int(ports.clock().timestamp())
    report = DecisionReport(service=ref.key, approval_id=approval_id, outcome="NOT_FOUND", reason="")
    approval = ports.ledger.approvals.get(ref, approval_id)
    if approval is None:
        report.reason = f"no approval {approval_id} for {ref}"
        return report
    status = "APPROVED" if decision == Decision.APPROVE else "REJECTED"
    if ports.ledger.approvals.decide(ref, approval_id, status, by=user, now=now):
        approval = approval.model_copy(update={"status": status, "decided_by": user, "decided_at": now})
    else:
        approval = ports.ledger.approvals.get(ref, approval_id) or approval
        if approval.status == "PENDING":  # the condition failed on the expiry
            report.outcome, report.reason = "EXPIRED", f"approval {approval_id} expired: push the image again"
            return report
        if approval.status != status:
            by = f" by {approval.decided_by}" if approval.decided_by not in (None, "-") else ""
            report.outcome, report.reason = "ALREADY_DECIDED", f"approval {approval_id} is {approval.status}{by}"
            return report
        # the same decision, taken before (a retry, a double click): told and carried out again, both idempotent
        # (the message is the same message; the deploy is once per push)
    snapshot = ports.ecs.describe_services([ref]).get(ref)
    config = parse_service_tags(snapshot.tags if snapshot else {}, ports.named_policies)
    push = EcrImageActionEvent.model_validate_json(approval.push)
    tell_approval(approval, f"{status.lower()} by <@{approval.decided_by}>", push.region, config)
    report.outcome = status
    if status == "REJECTED":
        report.reason = f"rejected by {user}: {approval.repository}:{approval.tag} is not deployed to {ref}"
        return report
    report.deploy = deploy_pushed_image(push, ports, approved=ref)
    result = report.deploy.outcome_of(ref.key)
    report.reason = result.reason if result else f"{ref} no longer takes {approval.repository}"
    return report
