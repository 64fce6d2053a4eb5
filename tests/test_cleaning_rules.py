"""Cleaning rules judged by content, recorded removals, unwrapping and Markdown markup."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from qa.chunking import split_sentences
from qa.cleaning import clean
from qa.html_text import clean_html

PAPER = """# {title}

{title} is studied here. The method was applied to forty samples and the results were
consistent with the earlier findings of the group. We report the effect size and the
confidence interval for each sample.

## References

1. Smith, J. (2010). A study of samples. Journal of Samples 12(3): 45-67.
2. Doe, A., Roe, B. et al. (2012). More samples. https://doi.org/10.1000/xyz123
3. Brown K, Green L. Sampling again. Sample Letters, vol. 4, pp. 1-9, 2015.
"""


def words(text: str) -> Counter:
    return Counter(re.findall(r"\w+", text))


def removed_text(original: str, cleaned) -> str:
    return " ".join(original[r.start:r.end] for r in cleaned.removals)


def test_every_paper_of_a_multi_document_file_is_kept():
    titles = [f"Paper number {n}" for n in range(1, 8)]
    original = "\n".join(PAPER.format(title=t) for t in titles)
    cleaned = clean(original)
    for title in titles:
        assert f"{title} is studied here." in cleaned.text
        assert title in cleaned.text.split("\n\n")  # the heading stays, as its own paragraph
    assert "Smith, J." not in cleaned.text and "doi.org" not in cleaned.text
    assert [r.rule for r in cleaned.removals] == ["references"] * 7
    for removal in cleaned.removals:
        assert original[removal.start:].startswith("## References") or original[removal.start:].startswith("References")
        assert original[removal.start:removal.end].rstrip().endswith("2015.")
    assert 0.3 < cleaned.kept_share < 0.9


def test_a_references_list_in_the_middle_is_removed_only_as_that_list():
    original = ("The first paper ends here.\n\nReferences\n\n[1] Smith, J. (2010). Samples. J. Samp. 3(2): 4-5.\n"
                "[2] https://example.org/paper\n\nA second paper\n\nThe second paper starts with this sentence "
                "and goes on.\n")
    cleaned = clean(original)
    assert "The second paper starts with this sentence and goes on." in cleaned.text
    assert "A second paper" in cleaned.text
    assert [r.rule for r in cleaned.removals] == ["references"]
    assert original[cleaned.removals[0].start:cleaned.removals[0].end].endswith("https://example.org/paper")


@pytest.mark.parametrize("heading", ["References", "Notes", "Footnotes", "## Notes"])
def test_a_notes_heading_followed_by_prose_cuts_nothing(heading):
    original = (f"The army advanced on the city.\n\n{heading}\n\nThe troops will stay in the city until "
                f"spring, the commander said on Monday.\n\nMore of the document follows here.")
    cleaned = clean(original)
    assert not cleaned.removals
    assert "The troops will stay in the city until spring" in cleaned.text
    assert "More of the document follows here." in cleaned.text
    assert cleaned.kept_share == 1.0


def test_comments_stop_at_the_next_document():
    original = ("# First post\n\nThe first post says something useful.\n\nLeave a Reply\n\nGreat post!\n\n"
                "# Second post\n\nThe second post says something else.\n")
    cleaned = clean(original)
    assert "The second post says something else." in cleaned.text
    assert "Great post" not in cleaned.text
    assert [(r.rule, original[r.start:r.end]) for r in cleaned.removals] == [
        ("comments", "Leave a Reply\n\nGreat post!")]


def test_a_single_says_line_is_not_a_comment_section():
    original = "The minister spoke.\n\nJohn Smith says:\n\nThe troops will leave in spring."
    assert "The troops will leave in spring." in clean(original).text


def test_author_box_needs_a_biography():
    box = "The end of the article.\n\nAbout Jane Doe\n\nJane Doe is a journalist who writes on trade.\n"
    cleaned = clean(box)
    assert cleaned.text == "The end of the article."
    assert [r.rule for r in cleaned.removals] == ["author-box"]
    place = "Intro.\n\nAbout Aleppo\n\nAleppo is a city in northern Syria with a long history.\n"
    assert "Aleppo is a city" in clean(place).text


def test_kept_share_and_rules_are_reported():
    original = ("The army advanced on the city.\n\n"
                "This site uses cookies to improve your browsing experience; see our privacy policy.\n")
    cleaned = clean(original)
    assert cleaned.removed_by_rule() == {"cookie-notice": cleaned.removals[0].chars}
    visible = sum(1 for ch in original if not ch.isspace())
    assert cleaned.visible_chars == visible
    assert cleaned.kept_share == pytest.approx(1 - cleaned.removals[0].chars / visible)


def test_html_removals_point_into_the_html_and_share_is_of_visible_text():
    html = ("<html><head><title>T</title><style>p{color:red}</style></head><body><p>The army advanced.</p>"
            "<p>This site uses cookies to improve your browsing experience; see our privacy policy.</p></body></html>")
    cleaned = clean_html(html)
    [removal] = cleaned.removals
    assert html[removal.start:removal.end] == ("This site uses cookies to improve your browsing experience; "
                                               "see our privacy policy.")
    assert cleaned.visible_chars == sum(1 for ch in "T The army advanced. " + html[removal.start:removal.end]
                                        if not ch.isspace())


# Unwrapping ---------------------------------------------------------------------------

LICENCE = """   3. Grant of Patent License. Subject to the terms and conditions of
      this License, each Contributor hereby grants to You a perpetual,
      worldwide, non-exclusive, no-charge, royalty-free, irrevocable
      patent license, as of the date such litigation is filed.

      (a) You must give any other recipients of the Work or
          Derivative Works a copy of this License; and

      (b) You must cause any modified files to carry prominent notices
          stating that You changed the files; and
"""


def test_hard_wrapped_paragraphs_are_unwrapped_with_offsets():
    cleaned = clean(LICENCE)
    assert ("3. Grant of Patent License. Subject to the terms and conditions of this License, each "
            "Contributor hereby grants to You a perpetual, worldwide, non-exclusive, no-charge, royalty-free, "
            "irrevocable patent license, as of the date such litigation is filed.") in cleaned.text
    assert "(a) You must give any other recipients of the Work or Derivative Works a copy" in cleaned.text
    sentences = [cleaned.text[s:e] for s, e in split_sentences(cleaned.text)]
    assert any(s.startswith("Subject to the terms") and s.endswith("litigation is filed.") for s in sentences)
    space = cleaned.text.index("conditions of this") + len("conditions of")
    assert LICENCE[cleaned.offsets[space]] == "\n"  # the emitted space stands for the line break
    for i, ch in enumerate(cleaned.text):
        if not ch.isspace():
            assert LICENCE[cleaned.offsets[i]] == ch


@pytest.mark.parametrize("text", [
    "Shopping:\n- apples and pears\n- bread\n1. first\n2. second\n(a) one\nb) two",
    "| a | b |\n| 1 | 2 |",
    "From: Jane <jane@example.org>\nSubject: the plan\nDate: Mon, 1 Jan 2024",
    "Some text:\n\n    code line one\n    code line two",
    "```\nfirst line of code\nsecond line of code\n```",
    "Short line one.\nShort line two.\nShort line three.",
    "Jane Doe\n12 Main Street\nSpringfield",
])
def test_structured_lines_are_not_joined(text):
    cleaned = clean(text)
    for line in [normal for normal in (re.sub(r"^[ |>]*|[ |]*$", "", raw) for raw in text.splitlines())
                 if normal and not normal.startswith("```") and not normal.endswith(":")]:
        assert line in cleaned.text.splitlines() or any(line in part for part in cleaned.text.splitlines()), line
    assert len(cleaned.text.splitlines()) > 1


def test_quotes_unwrap_among_themselves_only():
    original = ("He wrote:\n> the first quoted line goes on and on and is wrapped at the\n"
                "> usual width of an email reply in the thread\nand then I answered that it was fine and wrapped\n"
                "the reply too.")
    cleaned = clean(original)
    assert "the first quoted line goes on and on and is wrapped at the usual width" in cleaned.text
    assert "in the thread\nand then I answered" in cleaned.text
    assert ">" not in cleaned.text


def test_hyphenated_words_are_rejoined_only_when_safe():
    original = ("The plan was elaborate and long. Its authors made the elabor-\nate plan public, and a well-known "
                "writer praised the well-\nknown authors, and the co-\noperative spirit of it all.")
    cleaned = clean(original)
    assert "the elaborate plan public" in cleaned.text
    assert "the well-known authors" in cleaned.text
    assert "co- operative" in cleaned.text


# Markdown ------------------------------------------------------------------------------

def test_markdown_markup_does_not_reach_the_text():
    original = ("# Notes on Debian tools #\n\nSome *emphasis*, **strong**, _under_ and __double__ words, "
                "`inline code`, a [link](https://example.org \"title\") and ![a diagram](img.png).\n\n"
                "APT\n===\n\nThe <b>apt</b> tool.<br>\n\n---\n\n== Wiki title ==\n\nEnd [ref][1].\n\n"
                "[1]: https://example.org\n")
    cleaned = clean(original)
    assert cleaned.text == ("Notes on Debian tools\n\nSome emphasis, strong, under and double words, inline code, "
                            "a link and a diagram.\n\nAPT\n\nThe apt tool.\n\nWiki title\n\nEnd ref.")
    assert not cleaned.removals
    for i, ch in enumerate(cleaned.text):
        if not ch.isspace():
            assert original[cleaned.offsets[i]] == ch, (i, ch)


def test_snake_case_and_footnote_definitions_are_kept():
    original = "Call my_function_name now.\n\n[^1]: The footnote text stays.\n"
    cleaned = clean(original)
    assert "my_function_name" in cleaned.text
    assert "The footnote text stays." in cleaned.text


# Properties ----------------------------------------------------------------------------

PIECES = [
    "The army advanced on the city at dawn and met little\nresistance from the defenders, who withdrew.",
    "Troops reached the centre by noon.",
    "This site uses cookies to improve your browsing experience; see our privacy policy.",
    "- a list item that is\n  wrapped onto a second line\n- another item",
    "## A heading",
    "Notes\n\nThe notes heading here is followed by prose, which stays.",
    "References\n\n[1] Smith, J. (2010). Samples. J. Samp. 3(2): 4-5.\n[2] https://example.org/x",
    "Photo by: Reuters\n\nSoldiers in the square",
    "Plain closing words of a document, wrapped\nat a narrow width across\nthree lines of text here.",
]


@pytest.mark.parametrize("seed", range(25))
def test_every_word_is_kept_or_recorded_as_removed(seed):
    rng = random.Random(seed)
    original = "\n\n".join(rng.choice(PIECES) for _ in range(rng.randint(2, 9)))
    cleaned = clean(original)
    # Offsets: every kept character maps back to itself, in order.
    assert all(a <= b for a, b in zip(cleaned.offsets, cleaned.offsets[1:]))
    for i, ch in enumerate(cleaned.text):
        if not ch.isspace():
            assert original[cleaned.offsets[i]] == ch
    # Removals never overlap kept text, and kept + removed words are all the words.
    for removal in cleaned.removals:
        assert not any(removal.start <= o < removal.end for o in cleaned.offsets)
    assert words(cleaned.text) + words(removed_text(original, cleaned)) == words(original)
    # Unwrapped: no line break is left inside a prose sentence.
    assert "little\nresistance" not in cleaned.text
