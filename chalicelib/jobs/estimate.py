"""What a job will cost before it is submitted (`POST /v1/jobs/estimate`, and the reservation
`submit` holds): per purpose the provider the chain will try first and whose account pays, an
upper bound of its cost (billing.estimate), the credits it reserves and the expected wall time."""

from __future__ import annotations

from chalicelib.accounts import byok
from chalicelib.billing import credits
from chalicelib.billing import estimate as bounds
from chalicelib.billing.plans import Entitlement, Plan
from chalicelib.core.settings import get_settings
from chalicelib.http.schemas.jobs import JobEstimate, StepEstimate
from chalicelib.jobs import eta
from chalicelib.pipeline import providers
from chalicelib.pipeline.concept import script, storyboard


def purposes(request: dict) -> list[str]:
    """The purposes a job's providers are called for (none when a command pipeline runs it)."""
    if get_settings().pipeline != "steps":
        return []
    found = [] if script.is_script(request) else ["concept"]
    if _scenes_to_make(request):
        found.append("image")
    if request.get("narration", True):
        found.append("narration")
    if _scenes_to_animate(request):
        found.append("video")
    return found


def _scenes_to_animate(request: dict) -> int:
    """Scenes `motion` asks to animate (a user's own clip among them is not: an upper bound)."""
    return len(storyboard.animated(request.get("motion", "none"), eta.scene_count(request)))


def _scenes_to_make(request: dict) -> int:
    """Scenes whose picture a provider makes (not the user's own image or clip)."""
    if script.is_script(request):
        return sum(1 for s in script.script_scenes(request) if not s.get("image_upload_id"))
    return eta.scene_count(request)


def _narration_chars(request: dict) -> int:
    if script.is_script(request):
        return sum(len(s["text"]) for s in script.script_scenes(request))
    return sum(map(bounds.narration_cap, storyboard.scene_durations(int(request["duration_s"]))))


def steps(user_id: str, request: dict, plan: Plan) -> list[StepEstimate]:
    own, platform = byok.stored(user_id), get_settings().platform_providers
    seconds = eta.video_seconds(request)
    found = []
    for purpose in purposes(request):
        choice = providers.choose(purpose, request, plan.ai, own=own, platform=platform)[0]
        cost: int | None = 0
        if choice.account != "none":
            cost = bounds.bound(
                purpose,
                choice,
                request=request,
                scenes={"image": _scenes_to_make, "video": _scenes_to_animate}.get(purpose, eta.scene_count)(
                    request
                ),
                narration_chars=_narration_chars(request),
                seconds=seconds,
            )
            if cost is None and choice.account == "platform":  # no price: the worker won't call it
                choice = providers.Choice(providers.OFFLINE, "none")
        found.append(
            StepEstimate(
                purpose=purpose,
                provider=choice.provider,
                account=choice.account,
                model=choice.model if choice.account == "platform" else None,
                cost_micros=cost or 0,
            )
        )
    return found


def credits_needed(found: list[StepEstimate]) -> int:
    return sum(s.cost_micros for s in found if s.account == "platform")


def of(user_id: str, request: dict, ent: Entitlement) -> JobEstimate:
    plan = ent.plan
    found = steps(user_id, request, plan)
    need = credits_needed(found)
    available = credits.as_of(user_id, ent.period_start, plan.monthly_credits_micros).available_micros
    return JobEstimate(
        steps=found,
        cost_micros=sum(s.cost_micros for s in found),
        credits_micros=need,
        credits_available_micros=available,
        fits=need <= available,
        wall_s=round(
            sum(p.planned_s for p in eta.plan(request, queued=True, user_id=user_id, plan_name=plan.name)), 1
        ),
        plan=plan.name,
    )
