"""Messages from templates: the administrator's version if there is one, else the shipped default.

Lookup per part: an active `NotificationTemplate` for (event, channel), then the shipped files of
the practice that registered the event (`registry.register_templates`: `<directory>/<event>/` and
`<directory>/_default/`), then `communications/<event>/` (internal events) and
`communications/_default/`, each as `<channel>_<part>`.
Subjects and text bodies render without HTML escaping, HTML bodies with it; values bound for
Slack are escaped the Slack way (`&`, `<`, `>`), so a title cannot ping `<!channel>`.
A template that fails at send time never breaks delivery: the shipped default is used and the
error logged.
"""

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from django.template import Context, engines
from django.template.base import Template
from django.template.exceptions import TemplateDoesNotExist, TemplateSyntaxError
from django.utils.html import escape, linebreaks

from . import conf, registry
from .choices import Channel
from .samples import sample
from .subject import Subject

logger = logging.getLogger(__name__)

PARTS = {"subject": "subject.txt", "text": "body.txt", "html": "body.html"}


@dataclass(frozen=True)
class Message:
    """A rendered message: one-line subject, text (or mrkdwn/markdown) body, HTML body (email)."""

    subject: str
    text: str
    html: str = ""


def _engine():
    return engines["django"].engine


@lru_cache(maxsize=512)
def _compile(source: str) -> Template:
    # Compiled templates are immutable and thread-safe to render; sources repeat across sends.
    return _engine().from_string(source)


def _folders(event: str) -> tuple[str, ...]:
    registered = [f"{d}/{folder}" for d in registry.template_directories(event) for folder in (event, "_default")]
    return (*registered, f"communications/{event}", "communications/_default")


def _shipped(event: str, channel: str, part: str) -> Template | None:
    for folder in _folders(event):
        try:
            return _engine().get_template(f"{folder}/{channel}_{PARTS[part]}")
        except TemplateDoesNotExist:
            continue
    return None


def _slack_escape(value):
    if isinstance(value, str):
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if isinstance(value, dict):
        return {k: _slack_escape(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_slack_escape(v) for v in value]
    return value


def template_context(
    event: str,
    subject: Subject,
    data: dict,
    *,
    actor: dict | None = None,
    public: bool = True,
    occurred_at: datetime | None = None,
) -> dict:
    """What every template sees: the caller's context plus `event`, `event_label`, `subject`,
    `actor`, `public`, `occurred_at` and `site_url` (these names win over the caller's)."""
    return {
        **data,
        "event": event,
        "event_label": registry.label(event),
        "subject": subject.public_data(),
        "actor": actor,
        "public": public,
        "occurred_at": occurred_at,
        "site_url": conf.site_url(),
    }


def _render(template: Template, context: dict, *, autoescape: bool) -> str:
    return template.render(Context(context, autoescape=autoescape))


def _one_line(text: str, limit: int = 998) -> str:
    return " ".join(text.split())[:limit]


def _html_from_text(text: str, subject: str) -> str:
    return (
        '<!doctype html><html><body style="font-family:Arial,sans-serif;font-size:14px;color:#1f2937">'
        f'<h2 style="font-size:18px">{escape(subject)}</h2>{linebreaks(escape(text))}</body></html>'
    )


def _render_parts(event: str, channel: str, context: dict, override) -> Message:
    ctx = _slack_escape(context) if channel == Channel.SLACK else context
    sources: dict[str, Template | None] = {part: _shipped(event, channel, part) for part in PARTS}
    if override is not None:
        if override.subject:
            sources["subject"] = _compile(override.subject)
        sources["text"] = _compile(override.body_text)
        sources["html"] = _compile(override.body_html) if override.body_html else None
    subject = _render(sources["subject"], ctx, autoescape=False) if sources["subject"] else ""
    subject = _one_line(subject) or f"{context['subject']['number']} {context['event_label']}"
    text = _render(sources["text"], ctx, autoescape=False) if sources["text"] else ""
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"  # template tags leave blank lines behind
    html = ""
    if channel == Channel.EMAIL:
        html = _render(sources["html"], ctx, autoescape=True) if sources["html"] else _html_from_text(text, subject)
    return Message(subject=subject, text=text, html=html)


def _minimal(context: dict) -> Message:
    """Last resort when even the shipped template fails: never lose the notification."""
    s = context["subject"]
    subject = f"[{s['number']}] {context['event_label']}: {s['title']}"
    text = f"{subject}\n\n{s['url']}\n"
    return Message(subject=_one_line(subject), text=text, html=_html_from_text(text, subject))


def render(event: str, channel: str, context: dict, override=None) -> Message:
    """Render one message; falls back to the shipped default, then to a minimal message."""
    if override is not None:
        try:
            return _render_parts(event, channel, context, override)
        except Exception:
            logger.exception("notification template %s is broken at send time; using the shipped default", override)
    try:
        return _render_parts(event, channel, context, None)
    except Exception:
        logger.exception("shipped template for %s/%s failed; using a minimal message", event, channel)
        return _minimal(context)


def sample_context(event: str) -> dict:
    """The template context of the event's sample record."""
    subject, data = sample(event)
    return template_context(
        event, subject, data, actor={"id": 1, "name": "Rita Resolver"}, occurred_at=datetime(2026, 11, 22, 10, 0)
    )


def template_errors(event: str, channel: str, subject: str, body_text: str, body_html: str) -> dict[str, list[str]]:
    """Compile AND render each part against the event's sample; {field: [messages]} of failures."""
    errors: dict[str, list[str]] = {}
    context = sample_context(event)
    ctx = _slack_escape(context) if channel == Channel.SLACK else context
    if not (body_text or "").strip():
        errors["body_text"] = ["The text body is required."]
    for field, source, autoescape in (
        ("subject", subject, False),
        ("body_text", body_text, False),
        ("body_html", body_html, True),
    ):
        if not source or field in errors:
            continue
        try:
            template = _engine().from_string(source)
        except TemplateSyntaxError as exc:
            errors[field] = [f"Does not compile: {exc}"]
            continue
        except Exception as exc:
            errors[field] = [f"Does not compile: {exc}"]
            continue
        try:
            _render(template, ctx, autoescape=autoescape)
        except Exception as exc:
            errors[field] = [f"Fails to render against a sample {event}: {type(exc).__name__}: {exc}"]
    if channel != Channel.EMAIL and body_html:
        errors.setdefault("body_html", []).append("Only email templates have an HTML part.")
    return errors


def preview(event: str, channel: str, override=None) -> Message:
    """The message a template (or the shipped default) produces for the event's sample record."""
    context = sample_context(event)
    if override is not None:
        return _render_parts(event, channel, context, override)
    return render(event, channel, context)
