"""Schemas of the operator's routes (/v1/admin): the overview, customers, jobs, dead letters, spend."""

from pydantic import Field

from chalicelib.core.model_base import Model
from chalicelib.http.schemas.accounts import Membership, ProviderUsageTotal, Usage
from chalicelib.http.schemas.billing import Credits, PlanInfo
from chalicelib.http.schemas.common import JobId, PageQuery, Strict, UserId
from chalicelib.http.schemas.jobs import Job
from chalicelib.jobs.states import JobStatus


# ---- operators ----------------------------------------------------------------------------
class OperatorGrant(Strict):
    email: str = Field(min_length=3, max_length=320, description="The account that becomes an operator")


class Operator(Model):
    id: str
    email: str


class OperatorList(Model):
    items: list[Operator]


# ---- overview -----------------------------------------------------------------------------
class OverviewQuery(Model):
    days: int = Field(14, ge=1, le=90, description="How many days (UTC, today included) `per_day` covers")


class DayCounts(Model):
    day: str = Field(description="A UTC date, YYYY-MM-DD")
    total: int
    by_status: dict[str, int] = Field(description="Jobs created that day, by their status now")


class QueueInfo(Model):
    depth: int = Field(
        description="Jobs needing a worker now or within a minute (waiting, active, due retries)"
    )
    workers: int = Field(description="Worker processes or tasks connected to the queue")


class WaitStats(Model):
    window_s: int = Field(description="Jobs started within this many seconds count")
    samples: int
    p50_s: float | None = Field(description="Median seconds from submission to a worker's start")
    p95_s: float | None


class FailureCount(Model):
    code: str | None
    step: str | None
    count: int


class Overview(Model):
    generated_at: str
    by_status: dict[str, int] = Field(
        description="Jobs created in the `days` window by status; `queued` and `running`: every such job now"
    )
    per_day: list[DayCounts] = Field(description="Oldest first; days without jobs are there with 0")
    queue: QueueInfo
    wait: WaitStats
    failures: list[FailureCount] = Field(
        description="Failed jobs of the `days` window by code and step, most first"
    )


# ---- customers ----------------------------------------------------------------------------
class CustomersQuery(PageQuery):
    email: str | None = Field(None, max_length=320, description="The address starts with this (any case)")
    cursor: UserId | None = Field(None, description="`next_cursor` of the previous page")


class Customer(Model):
    id: str
    email: str
    created_at: str
    email_verified: bool
    role: str = Field(description="`customer` or `operator`")
    suspended_at: str | None


class CustomerList(Model):
    items: list[Customer]
    next_cursor: str | None


class JobSummary(Model):
    id: str
    status: JobStatus
    plan: str
    attempt: int
    error_code: str | None
    error_step: str | None
    created_at: str
    finished_at: str | None


class CustomerDetail(Model):
    customer: Customer
    plan: PlanInfo
    membership: Membership | None
    usage: Usage
    credits: Credits = Field(description="The customer's platform AI credits now")
    recent_jobs: list[JobSummary] = Field(description="The newest jobs (of `status`, when given)")


class CustomerJobsQuery(Model):
    status: JobStatus | None = Field(None, description="Only the customer's jobs in this status")
    limit: int = Field(20, ge=1, le=100, description="How many recent jobs")


class Suspension(Model):
    customer: Customer
    canceled_jobs: list[str] = Field(
        description="Jobs that were queued or running, canceled with their quota back"
    )


# ---- jobs and the dead letter -------------------------------------------------------------
class StepRunInfo(Model):
    step: str
    owner: str = Field(description="The worker (host:pid) that ran it")
    status: str
    started_at: str
    finished_at: str | None
    error_code: str | None
    error_message: str | None = Field(description="As the step raised it (the owner sees the job's)")
    error_detail: str | None = Field(
        None,
        description="Internal, never shown to the owner: the provider's answer, the command's stderr tail, "
        "or the unexpected exception",
    )


class InternalDetail(Model):
    error_code: str | None
    error_step: str | None
    error_message: str | None
    error_detail: str | None = Field(None, description="The internal detail of the last failed step run")
    lease_owner: str | None
    lease_until: str | None
    queue_state: str | None = Field(description="BullMQ's state of the job, when Redis answered")
    runs: list[StepRunInfo]


class JobInspection(Model):
    job: Job = Field(description="The job as its owner sees it")
    owner: Customer
    internal: InternalDetail


class DeadLettersQuery(PageQuery):
    code: str | None = Field(None, max_length=64, description="Only jobs that failed with this error code")
    cursor: JobId | None = Field(None, description="`next_cursor` of the previous page")


class DeadLetter(Model):
    id: str
    user_id: str
    email: str | None
    plan: str
    attempt: int
    error_code: str | None
    error_step: str | None
    error_message: str | None
    finished_at: str | None


class DeadLetterList(Model):
    items: list[DeadLetter]
    next_cursor: str | None


class RedriveRequest(Strict):
    job_ids: list[JobId] = Field(min_length=1, max_length=100, description="Failed jobs to requeue")


class RedriveReply(Model):
    redriven: list[str] = Field(description="Requeued from their failed step, not charged again")
    skipped: list[str] = Field(description="Not failed (any more), or no such job")


# ---- money --------------------------------------------------------------------------------
class SpendQuery(Model):
    days: int = Field(30, ge=1, le=90, description="How many days (UTC, today included)")


class SpendDay(ProviderUsageTotal):
    day: str = Field(description="A UTC date, YYYY-MM-DD")
    plan: str = Field(description="The plan the calls' jobs ran on")


class TopCustomer(Model):
    user_id: str
    email: str | None
    calls: int
    wall_s: float
    cost_micros: int = Field(0, description="What their calls cost, all accounts (micro-dollars)")
    platform_micros: int = Field(0, description="Of which on the platform's accounts")


class Spend(Model):
    days: int
    per_day: list[SpendDay] = Field(
        description="Provider usage and its cost per day, provider, purpose and plan, oldest first"
    )
    top_customers: list[TopCustomer] = Field(
        description="The ten customers who cost the platform's accounts most (then by provider calls)"
    )
    credits_sold_micros: int = Field(0, description="Credit packs paid for in the window")
    credits_charged_micros: int = Field(0, description="Credits charged for jobs that ended in the window")
