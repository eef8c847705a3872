"""
The fake POK's certificate images: an SVG drawn from the request it received.

Each template has a look of its own (colours, type and ornament), so Studio's preview shows what
the course's template looks like, and each credential shows its learner's name, course, organisation
and date, so the demo and the screenshots show a real-looking certificate. Every value is XML-escaped:
the names come from learners.
"""

import zlib
from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape, quoteattr

WIDTH, HEIGHT = 1200, 848
SERIF = "Georgia, 'DejaVu Serif', 'Noto Serif', serif"
SANS = "'Helvetica Neue', Arial, 'DejaVu Sans', 'Noto Sans', sans-serif"


@dataclass(frozen=True)
class Look:
    """A template's visual identity."""

    name: str
    paper: str
    frame: str
    accent: str
    ink: str
    muted: str
    heading_font: str
    body_font: str


LOOKS = {
    look.name: look
    for look in (
        Look("classic", "#fbf6ea", "#1f3a5f", "#b08a2e", "#1c2430", "#5a6270", SERIF, SERIF),
        Look("modern", "#ffffff", "#0f766e", "#14b8a6", "#12312e", "#4b5d5b", SANS, SANS),
        Look("academic", "#f4f1fa", "#4c2a85", "#c0841a", "#221536", "#5b5068", SERIF, SANS),
        Look("ribbon", "#fff8f1", "#9a3412", "#f59e0b", "#2b1a10", "#6b5445", SANS, SERIF),
    )
}


def look_for(template_id: str) -> Look:
    """A stable look per template id, for templates declared without one."""
    names = sorted(LOOKS)
    return LOOKS[names[zlib.crc32(template_id.encode()) % len(names)]]


@dataclass(frozen=True)
class CertificateText:
    """What the image says, read from a POST credential or POST template preview body."""

    template_name: str
    learner_name: str
    course_title: str
    organization: str
    issued_on: str
    parameters: tuple[tuple[str, str], ...] = ()
    reference: str = ""


def text_from_body(
    body: dict, template_name: str, labels: dict[str, str], reference: str = ""
) -> CertificateText:
    """The certificate's words from the request POK received; absent values stay empty."""
    details = body.get("credential") if isinstance(body.get("credential"), dict) else {}
    receiver = body.get("receiver") if isinstance(body.get("receiver"), dict) else {}
    customization = body.get("customization") if isinstance(body.get("customization"), dict) else {}
    template = customization.get("template") if isinstance(customization.get("template"), dict) else {}
    values = template.get("customParameters") if isinstance(template.get("customParameters"), dict) else {}
    name = " ".join(str(part) for part in (receiver.get("firstName"), receiver.get("lastName")) if part)
    return CertificateText(
        template_name=template_name,
        learner_name=name or str(receiver.get("name") or ""),
        course_title=str(details.get("title") or ""),
        organization=str(details.get("emitter") or ""),
        issued_on=format_date(details.get("emissionDate"), details.get("dateFormat")),
        parameters=tuple((labels.get(key, key), str(value)) for key, value in values.items() if value),
        reference=reference,
    )


def format_date(value, date_format) -> str:
    """An ISO timestamp in POK's date format (``dd/MM/yyyy`` or ``MM/dd/yyyy``)."""
    if not isinstance(value, str) or not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return ""
    pattern = "%m/%d/%Y" if date_format == "MM/dd/yyyy" else "%d/%m/%Y"
    return moment.strftime(pattern)


def certificate_svg(text: CertificateText, look: Look, *, preview: bool = False) -> bytes:
    """The certificate drawn as an SVG document of WIDTH x HEIGHT."""
    centre = WIDTH // 2
    parameters = "   ·   ".join(f"{label}: {value}" for label, value in text.parameters)
    footer = " · ".join(filter(None, ("Fake POK", text.reference)))
    parts = [
        _element("rect", width=WIDTH, height=HEIGHT, fill=look.paper),
        *_ornament(look),
        _line(text.organization.upper(), centre, 150, 26, look.accent, look.body_font, weight=700, spacing=4),
        _line(text.template_name, centre, 215, 46, look.frame, look.heading_font, weight=700),
        _line("This certifies that", centre, 300, 24, look.muted, look.body_font, italic=True),
        _line(text.learner_name, centre, 385, 64, look.ink, look.heading_font, weight=700),
        _element("rect", x=centre - 260, y=415, width=520, height=3, fill=look.accent),
        _line("has successfully completed", centre, 470, 24, look.muted, look.body_font, italic=True),
        _line(text.course_title, centre, 540, 40, look.frame, look.heading_font, weight=700),
        _line(parameters, centre, 600, 22, look.ink, look.body_font),
        _line(
            f"Issued on {text.issued_on}" if text.issued_on else "", 220, 720, 22, look.ink, look.body_font
        ),
        _line(footer, centre, 770, 16, look.muted, SANS),
    ]
    if preview:
        parts.append(_watermark(look))
    svg = _element(
        "svg",
        "\n".join(part for part in parts if part),
        xmlns="http://www.w3.org/2000/svg",
        width=WIDTH,
        height=HEIGHT,
        viewBox=f"0 0 {WIDTH} {HEIGHT}",
        role="img",
        aria_label=f"{text.template_name}: {text.learner_name}, {text.course_title}, {text.organization}",
    )
    return svg.encode()


def _element(name: str, content: str = "", **attributes) -> str:
    """An SVG element; ``aria_label`` and ``font_size`` style names become ``aria-label``, ``font-size``."""
    rendered = " ".join(
        f"{key.replace('_', '-')}={quoteattr(str(value))}" for key, value in attributes.items()
    )
    return f"<{name} {rendered}>{content}</{name}>" if content else f"<{name} {rendered}/>"


def _line(value, x, y, size, colour, font, *, weight=400, italic=False, spacing=0) -> str:
    """One centred line of text, shrunk to fit the card (SVG text does not wrap)."""
    if not value:
        return ""
    style = {"font_style": "italic"} if italic else {}
    if spacing:
        style["letter_spacing"] = spacing
    return _element(
        "text",
        escape(value),
        x=x,
        y=y,
        text_anchor="middle",
        font_family=font,
        font_size=max(12, min(size, int((WIDTH - 240) / (0.58 * len(value))))),
        font_weight=weight,
        fill=colour,
        **style,
    )


def _watermark(look: Look) -> str:
    centre_x, centre_y = WIDTH // 2, HEIGHT // 2
    return _element(
        "text",
        "PREVIEW",
        x=centre_x,
        y=centre_y,
        text_anchor="middle",
        font_family=SANS,
        font_size=150,
        font_weight=700,
        fill=look.frame,
        fill_opacity=0.08,
        transform=f"rotate(-18 {centre_x} {centre_y})",
    )


def _ornament(look: Look) -> list[str]:
    """The frame: a shape every look shares, in its own colours, and each look's own flourish."""
    frame = [
        _element(
            "rect",
            x=inset,
            y=inset,
            width=WIDTH - 2 * inset,
            height=HEIGHT - 2 * inset,
            fill="none",
            stroke=colour,
            stroke_width=stroke_width,
        )
        for inset, colour, stroke_width in ((28, look.frame, 10), (50, look.accent, 2))
    ]
    if look.name == "modern":
        frame.append(_element("rect", x=28, y=28, width=26, height=HEIGHT - 56, fill=look.accent))
    elif look.name == "ribbon":
        ribbon = f"M{WIDTH - 230} 28 h120 v170 l-60 -40 l-60 40 z"
        frame.append(_element("path", d=ribbon, fill=look.accent, stroke=look.frame, stroke_width=3))
    elif look.name == "academic":
        frame.append(
            _element("circle", cx=WIDTH - 200, cy=690, r=62, fill="none", stroke=look.accent, stroke_width=6)
        )
    else:
        corners = ((50, 50), (WIDTH - 50, 50), (50, HEIGHT - 50), (WIDTH - 50, HEIGHT - 50))
        frame.extend(_element("circle", cx=x, cy=y, r=9, fill=look.accent) for x, y in corners)
    return frame
