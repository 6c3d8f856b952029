"""What the suggested-target tests share (no tests here): the panel's Japanese compiled into a
catalogue of the test's own until `make messages` has merged PO into locale/ja (then the fixture
does nothing)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from django.utils import translation

PO = {  # the new msgids and their Japanese (also in the report)
    "past %(n)s month %(mean)s ± %(spread)s": "過去%(n)sか月 %(mean)s ± %(spread)s",
    "past %(n)s months %(mean)s ± %(spread)s": "過去%(n)sか月 %(mean)s ± %(spread)s",
    "benchmark %(value)s": "ベンチマーク %(value)s",
    "the %(name)s target of %(goal)s needs %(value)s at current rates": "%(name)s目標%(goal)sにはこの率で%(value)sが必要",
    "the %(name)s target of %(goal)s is out of reach at current rates": "%(name)s目標%(goal)sはこの率では届かない",
    "; ": "、",
    "There is no suggested target for %(months)s.": "%(months)sには提案された目標がありません。",
    "There is no suggested target to fill in.": "入力できる提案目標がありません。",
    "The suggested target of %(count)s month was filled in.": "%(count)sか月分の提案目標を入力しました。",
    "The suggested targets of %(count)s months were filled in.": "%(count)sか月分の提案目標を入力しました。",
    "Suggested targets": "目標の提案",
    "Fill in": "入力する",
    "Suggested target": "提案目標",
    "Based on": "根拠",
    "Reasoning": "理由",
    "The plan above it": "上位の目標から逆算",
    "Past results (forecast)": "過去実績（予測）",
    "Benchmark": "ベンチマーク",
    "Fill the targets": "目標に入力",
    "No month of the plan is left to suggest a target for.": "目標を提案できる残りの月はありません。",
    "Back to the KPI": "KPIに戻る",
}


def _quoted(x: str) -> str:
    return '"' + x.replace("\\", "\\\\").replace('"', '\\"') + '"'


PLURALS = {
    "past %(n)s month %(mean)s ± %(spread)s": "past %(n)s months %(mean)s ± %(spread)s",
    "The suggested target of %(count)s month was filled in.": (
        "The suggested targets of %(count)s months were filled in."
    ),
}


def _po_entry(msgid: str, text: str) -> str:
    if msgid in PLURALS:
        return f"msgid {_quoted(msgid)}\nmsgid_plural {_quoted(PLURALS[msgid])}\nmsgstr[0] {_quoted(text)}\n\n"
    return f"msgid {_quoted(msgid)}\nmsgstr {_quoted(text)}\n\n"


@pytest.fixture(autouse=True)
def suggest_catalogue(tmp_path_factory, settings) -> None:
    """The panel's Japanese (PO, as sent for locale/ja) compiled
    beside the project's catalogue while `make messages` has not merged it yet; nothing once it
    has."""
    with translation.override("ja"):
        if translation.gettext("benchmark %(value)s") != "benchmark %(value)s":
            return
    po = Path(settings.BASE_DIR) / "locale/ja/LC_MESSAGES/django.po"
    text = po.read_text()
    text += "\n" + "".join(
        _po_entry(k, v)
        for k, v in PO.items()
        if k not in PLURALS.values() and f"\nmsgid {_quoted(k)}\n" not in text
    )
    out = tmp_path_factory.mktemp("locale") / "ja/LC_MESSAGES"
    out.mkdir(parents=True)
    (out / "django.po").write_text(text)
    subprocess.run(
        ["msgfmt", "--use-fuzzy", "-o", str(out / "django.mo"), str(out / "django.po")],
        check=True,
        capture_output=True,
    )
    settings.LOCALE_PATHS = [out.parent.parent]
    translation.activate("ja")
