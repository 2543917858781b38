"""What a new version changed against the previous one, and how late it was captured.

``change`` is ``headline``, ``body`` or ``headline+body`` when the text differs, and
``metadata`` when only the byline, the description or the page's own dates differ (that
version keeps its predecessor's text file).
"""
from __future__ import annotations

from typing import Any

from .timefmt import seconds_between

METADATA_FIELDS = ("authors", "description")
DATE_FIELDS = ("published", "modified")
# A page date this close to its own fetch is a stamp the server puts on every response,
# not news of a change: it would make a metadata version of every check.
RENDER_STAMP_SECONDS = 120


def _same(left: str | None, right: str | None) -> bool:
    return " ".join((left or "").split()) == " ".join((right or "").split())


def text_change(latest: dict[str, Any], title: str | None, body_sha256: str, previous_body_sha256: str | None) -> str:
    """``headline``, ``body`` or ``headline+body``: what a changed text changed."""
    headline = not _same(latest.get("title"), title)
    body = previous_body_sha256 != body_sha256
    if headline and body:
        return "headline+body"
    return "headline" if headline else "body"


def metadata_changes(latest: dict[str, Any], fields: dict[str, Any]) -> list[str]:
    """The metadata fields of ``fields`` (a new version's) that differ from the latest
    version's. Dates count only when the page itself gives them (not a feed's date standing
    in) and they are not a stamp of the fetch itself."""
    # a version written before changes were recorded (no body hash) has no description to compare
    compared = METADATA_FIELDS if latest.get("body_sha256") else ("authors",)
    changed = [name for name in compared if not _same(latest.get(name), fields.get(name))]
    for name in DATE_FIELDS:
        if "feed" in (latest.get(f"{name}_source"), fields.get(f"{name}_source")):
            continue
        new = fields.get(name)
        stamp = seconds_between(new, fields["fetched_at"])
        if stamp is not None and stamp <= RENDER_STAMP_SECONDS:
            continue
        if not _same(latest.get(name), new):
            changed.append(name)
    return changed


def capture_delays(fields: dict[str, Any], latest: dict[str, Any] | None, announced: str | None) -> dict[str, Any]:
    """``published_delay`` of a first version (seconds from its published time to this
    capture) or ``modified_delay`` of a later one (from the change the outlet announced:
    the page's modified time, else a feed's or sitemap's update time, when it lies after the
    previous capture)."""
    fetched_at = fields["fetched_at"]
    if latest is None:
        return {"published_delay": seconds_between(fields.get("published"), fetched_at)}
    since_previous = seconds_between(latest.get("fetched_at"), fetched_at)
    delays = (seconds_between(changed_at, fetched_at) for changed_at in (fields.get("modified"), announced))
    return {"modified_delay": next((delay for delay in delays if delay is not None and since_previous is not None
                                    and delay < since_previous), None)}
