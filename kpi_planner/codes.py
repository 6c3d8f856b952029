"""The one rule for natural keys: vendor, engagement, tree and node codes (API.md "Codes")."""

from __future__ import annotations

import re
from typing import Any

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

CODE_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
CODE_PATTERN = f"^{CODE_RE.pattern}$"  # the same, for the schema and URL patterns
CODE_URL_RE = r"[A-Za-z0-9._-]+"  # in a URL: a longer value is looked up and answers 404

code_validator = RegexValidator(CODE_PATTERN, _("Use 1–64 letters, digits, '-', '_' or '.'."))


def is_code(value: Any) -> bool:
    return isinstance(value, str) and CODE_RE.fullmatch(value) is not None
