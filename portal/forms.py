"""Forms of the vendor portal. The monthly grid has one row per KPI, so it is read from the POST
by node id (`entries_from_post`) rather than declared as fields."""

from __future__ import annotations

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from engagements.models import ImprovementProposal
from portal.services.entry import Entry
from portal.uploads import MAX_BYTES

MAX_TEXT = 2000


def _text(post: QueryDict, key: str, limit: int) -> str:
    # A NUL byte cannot be typed into a text box, and PostgreSQL refuses to store one (a 500):
    # drop it here, as the form fields of the other pages refuse it.
    return post.get(key, "").replace("\x00", "")[:limit]


def entries_from_post(post: QueryDict) -> list[Entry]:
    """The grid's cells: `value-<node id>`, `why-<node id>`, `next-<node id>`. Which nodes the
    user may enter is decided by services.entry.month_save, not here."""
    # ASCII digits only: "value-²" passes isdigit() but not int().
    ids = sorted(
        {int(k[6:]) for k in post if k.startswith("value-") and k[6:].isascii() and k[6:].isdigit()}
    )
    return [
        Entry(
            node_id=pk,
            value=_text(post, f"value-{pk}", 100),
            why=_text(post, f"why-{pk}", MAX_TEXT),
            next_action=_text(post, f"next-{pk}", MAX_TEXT),
        )
        for pk in ids
    ]


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("CSV or Excel file"),
        help_text=_("Use the template: one line per KPI. UTF-8 or Shift_JIS CSV, or .xlsx."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 2 MB."))
        return upload


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 3})
    )


class StepForm(forms.Form):
    """The reason sent with a month's step (return and reopen need one; the service says so).
    A form field, so that what cannot be stored (a NUL byte, a novel) is refused here."""

    reason = forms.CharField(required=False, max_length=MAX_TEXT, strip=False)


class ProposalForm(forms.ModelForm):
    class Meta:
        model = ImprovementProposal
        fields = ["title", "description", "expected_effect"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 4}),
            "expected_effect": forms.Textarea(attrs={"rows": 2}),
        }
        help_texts = {
            "expected_effect": _("e.g. appointment rate +1 pt, enquiries down by a third"),
        }


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("accept", _("Adopt")), ("decline", _("Decline"))], widget=forms.HiddenInput
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=MAX_TEXT)
