"""What a job starts from, checked at submission: a prompt, or the user's script (plain text or
scenes) with, per scene, their own uploaded image or clip. Errors name the field and, for a
scene, its index (`scenes.1.image_upload_id`), like pydantic's own."""

from __future__ import annotations

from chalicelib.billing.plans import Plan
from chalicelib.core.errors import ValidationFailed
from chalicelib.http.schemas.jobs import MAX_SCRIPT_SCENES, JobCreate
from chalicelib.jobs import eta
from chalicelib.pipeline.concept import script
from chalicelib.uploads import service as uploads


def _invalid(message: str, field: str, kind: str, detail: str) -> ValidationFailed:
    return ValidationFailed(message, details=[{"field": field, "message": detail, "type": kind}])


def check(user_id: str, body: JobCreate, plan: Plan) -> None:
    """422 unless exactly one of prompt, script and scenes is given, the script fits the plan's
    length and scene count, and every scene's upload is the user's uploaded image or clip."""
    given = body.sources()
    _check_motion(body, given)
    if len(given) != 1:
        field = "prompt" if not given else given[1]
        detail = "give exactly one of prompt, script or scenes" + (
            f" (got {' and '.join(given)})" if given else ""
        )
        raise _invalid("The job needs a prompt or a script, not both", field, "one_of", detail)
    if body.prompt is not None:
        return
    field = given[0]
    request = body.model_dump(mode="json", exclude_none=True)
    count = len(script.script_scenes(request))
    if count == 0:
        raise _invalid("The script has no sentence", field, "empty_script", "no sentence found")
    if count > MAX_SCRIPT_SCENES:
        raise _invalid(
            f"The script has {count} sentences; at most {MAX_SCRIPT_SCENES} scenes",
            field,
            "too_many_scenes",
            f"{count} scenes, at most {MAX_SCRIPT_SCENES}",
        )
    total = script.estimated_total(request)
    if total > plan.max_duration_s:
        raise _invalid(
            f"The script runs about {total:.0f} s, over your plan's limit of {plan.max_duration_s} s",
            field,
            "plan_limit",
            f"about {total:.0f} s; at most {plan.max_duration_s} on the {plan.name} plan",
        )
    for i, scene in enumerate(body.scenes or []):
        if scene.image_upload_id:
            uploads.require_scene_media(user_id, scene.image_upload_id, f"scenes.{i}.image_upload_id")


def _check_motion(body: JobCreate, given: list[str]) -> None:
    """A per-scene `motion` list names no more scenes than the video has (a prompt's planned
    scenes, a script's sentences or the scenes given)."""
    if not isinstance(body.motion, list) or len(given) != 1:
        return
    count = eta.scene_count(body.model_dump(mode="json", exclude_none=True))
    if len(body.motion) > count:
        raise _invalid(
            f"motion lists {len(body.motion)} scenes; this video has {count}",
            "motion",
            "too_many_scenes",
            f"at most {count} values, one per scene",
        )
