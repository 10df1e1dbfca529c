"""`dataall-installer plan` as text: one screen per stage at most; `--json` has every detail."""

from __future__ import annotations

from typing import Any

#: Resource lines shown per stage; the rest is counted (the JSON lists them all).
MAX_LINES = 18
_SIGN = {"Add": "+", "Modify": "~", "Remove": "-"}


def _order(resource: dict[str, Any], risky: set[str], stage: str) -> tuple[int, str]:
    key = f"{stage}/{resource['logical_id']}"
    if key in risky:
        rank = 0
    elif resource.get("replacement") in ("True", "Conditional") or resource["action"] == "Remove":
        rank = 1
    else:
        rank = 2
    return rank, resource["logical_id"]


def _line(resource: dict[str, Any], stage: str, risks: dict[str, dict[str, Any]]) -> str:
    sign = _SIGN.get(resource["action"], "?")
    text = f"  {sign} {resource['action']:<6} {resource['logical_id']:<34} {resource['resource_type']}"
    if resource["action"] == "Modify":
        replacement = resource.get("replacement") or "False"
        text += f"  replace={replacement}"
        if resource.get("forcing"):
            text += f" ({', '.join(resource['forcing'])})"
        elif resource.get("properties"):
            text += f" [{', '.join(resource['properties'][:4])}{', …' if len(resource['properties']) > 4 else ''}]"
    if resource.get("holds_data"):
        text += f"  HOLDS DATA ({resource['holds_data']})"
    risk = risks.get(f"{stage}/{resource['logical_id']}")
    if risk is not None:
        text += "  allowed" if risk["allowed"] else "  << REFUSED unless allowed"
    return text


def render(preview: dict[str, Any]) -> str:
    risks = {risk["key"]: risk for risk in preview.get("at_risk", [])}
    lines = [
        f"plan: {preview['action']} {preview.get('from_version') or '(nothing installed)'} -> {preview['version']}",
        "",
    ]
    quiet = []
    for stage in preview["stages"]:
        name, action = stage["stage"], stage["action"]
        if action in ("nothing", "run"):
            quiet.append(f"{name} ({'no change' if action == 'nothing' else 'runs'})")
            continue
        resources = stage.get("resources") or []
        counts = {kind: sum(1 for r in resources if r["action"] == kind) for kind in ("Add", "Modify", "Remove")}
        replaced = sum(1 for r in resources if r.get("replacement") == "True")
        summary = ", ".join(f"{n} {kind.lower()}" for kind, n in counts.items() if n)
        lines.append(
            f"{name}: {action} {stage.get('stack') or ''}"
            + (f"  ({summary}{f', {replaced} replaced' if replaced else ''})" if summary else "")
        )
        if stage.get("note"):
            lines.append(f"  note: {stage['note']}")
        shown = sorted(resources, key=lambda r: _order(r, set(risks), name))
        # A created stage: its count says it all, unless something in it holds data.
        if action == "create":
            shown = [r for r in shown if r.get("holds_data")]
        for resource in shown[:MAX_LINES]:
            lines.append(_line(resource, name, risks))
        if len(shown) > MAX_LINES:
            lines.append(f"  … and {len(shown) - MAX_LINES} more (--json lists every change)")
        lines.append("")
    if quiet:
        lines.append("unchanged or actions: " + ", ".join(quiet))
        lines.append("")
    blocked = [risk for risk in risks.values() if not risk["allowed"]]
    if blocked:
        lines.append(f"REFUSED: the run would replace or remove {len(blocked)} resource(s) holding data:")
        lines.extend(
            f"  {risk['key']} ({risk['resource_type']}): "
            + (
                "removed"
                if risk["action"] == "Remove"
                else f"replace={risk['replacement']} by {', '.join(risk['forcing']) or '?'}"
            )
            for risk in blocked
        )
        lines.append("  to go ahead: --allow-replacement " + " --allow-replacement ".join(r["key"] for r in blocked))
    else:
        lines.append("nothing holding data is replaced or removed" + (" (allowed ones aside)" if risks else ""))
    return "\n".join(lines)
