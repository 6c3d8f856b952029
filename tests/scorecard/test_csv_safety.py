from scorecard.tables import raw


def test_it_keeps_text_that_looks_like_a_formula_as_text() -> None:
    assert raw('=HYPERLINK("http://x","y")', "text") == '\'=HYPERLINK("http://x","y")'
    assert raw("-5件の減少", "text") == "'-5件の減少"
    assert raw("架電数が増加", "text") == "架電数が増加"
    assert raw(-5.0, "number") == -5.0
