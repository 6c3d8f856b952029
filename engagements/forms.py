"""Forms of the vendor portal. The monthly grid has one row per KPI, so it is read from the POST
by node id (`entries_from_post`) rather than declared as fields."""

from __future__ import annotations

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from engagements.models import ImprovementProposal
from engagements.services import Entry
from engagements.uploads import MAX_BYTES

MAX_TEXT = 2000


def entries_from_post(post: QueryDict) -> list[Entry]:
    """The grid's cells: `value-<node id>`, `why-<node id>`, `next-<node id>`. Which nodes the
    user may enter is decided by services.month_save, not here."""
    ids = sorted({int(k[6:]) for k in post if k.startswith("value-") and k[6:].isdigit()})
    return [
        Entry(
            node_id=pk,
            value=post.get(f"value-{pk}", "")[:100],
            why=post.get(f"why-{pk}", "")[:MAX_TEXT],
            next_action=post.get(f"next-{pk}", "")[:MAX_TEXT],
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
