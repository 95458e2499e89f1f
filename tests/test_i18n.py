"""Messages, language choice and translation (server/i18n.py)."""

from __future__ import annotations

import logging
import re
import string
from pathlib import Path

import pytest

from server import i18n

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "pwa" / "templates"
SCRIPTS = ROOT / "pwa" / "static" / "js"

# t('key') or t("key", ...) with the key written out; keys built at run time
# (t("duty." + state)) are not seen.
_KEY_USE = re.compile(r"""\bt\(\s*['"]([\w.]+)['"]\s*[,)]""")


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_languages_have_the_same_keys():
    zh, en = i18n.MESSAGES["zh"], i18n.MESSAGES["en"]
    assert sorted(set(zh) - set(en)) == []
    assert sorted(set(en) - set(zh)) == []
    assert set(i18n.MESSAGES) == set(i18n.LANGUAGES)


def test_every_message_is_non_empty_text_with_matching_placeholders():
    for key, zh in i18n.MESSAGES["zh"].items():
        en = i18n.MESSAGES["en"][key]
        assert isinstance(zh, str) and zh.strip(), key
        assert isinstance(en, str) and en.strip(), key
        assert _placeholders(zh) == _placeholders(en), key


def test_every_key_used_by_templates_and_scripts_exists():
    used = set()
    for path in TEMPLATES.glob("*.html"):
        used |= set(_KEY_USE.findall(path.read_text(encoding="utf-8")))
    for path in SCRIPTS.rglob("*.js"):
        used |= set(_KEY_USE.findall(path.read_text(encoding="utf-8")))
    assert used, "the scan found no keys at all: the patterns are broken"
    assert sorted(used - set(i18n.MESSAGES["zh"])) == []


@pytest.mark.parametrize(
    ("query", "cookie", "accept", "expected"),
    [
        ("en", "zh", "zh-CN", "en"),  # the query wins
        (None, "en", "zh-CN,zh;q=0.9", "en"),  # then the cookie
        (None, None, "en-US,en;q=0.9,zh;q=0.8", "en"),
        (None, None, "fr-FR,zh-TW;q=0.8,en;q=0.5", "zh"),  # best supported match
        (None, None, "zh;q=0.2,en;q=0.7", "en"),  # quality, not order, decides
        (None, None, "en;q=0,zh;q=0.1", "zh"),  # q=0 means "not this one"
        (None, None, "fr,de", "zh"),  # nothing supported: the default
        (None, None, None, "zh"),
        ("xx", "yy", "en", "en"),  # unsupported choices are skipped
        ("EN", None, None, "en"),
        (None, "zh-Hans", None, "zh"),
        (None, None, "en;q=abc, zh;q=0.5", "zh"),  # a broken q counts as 0
    ],
)
def test_pick_language(query, cookie, accept, expected):
    assert i18n.pick_language(query, cookie, accept) == expected


def test_translator_fills_placeholders():
    t = i18n.translator("en")
    assert t("expert.greeting", name="Li") == "Hello, Li"
    assert i18n.translator("zh")("expert.greeting", name="李") == "您好，李"


def test_translator_for_an_unknown_language_speaks_chinese():
    assert i18n.translator("fr")("app.name") == i18n.MESSAGES["zh"]["app.name"]


def test_unknown_key_returns_the_key_and_warns_once(caplog):
    i18n._warn_missing.cache_clear()
    t = i18n.translator("en")
    with caplog.at_level(logging.WARNING, logger="server.i18n"):
        assert t("no.such.key") == "no.such.key"
        assert t("no.such.key") == "no.such.key"
    warnings = [r for r in caplog.records if "no.such.key" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
