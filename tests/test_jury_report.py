"""`mtbench report` with a jury: the page's table and agreement are show's jury numbers (issue 24)."""

from __future__ import annotations

import html
import re

import pytest

from tests.cli import mtbench
from tests.test_jury import ENV, answers, by_model, jury_file, show_json  # noqa: F401 (answers: a fixture)

JUDGES = ("always8", "always4", "noisy")


def jury_cells(page: str) -> dict[str, list[str]]:
    """The jury table's rows by model, each row's cells as the page shows them."""
    table = re.search(r'<table id="jury">(.*?)</table>', page, re.S)
    assert table, "no jury table in the page"
    rows = re.findall(r"<tr(?: class=\"partial\")?>(.*?)</tr>", table.group(1), re.S)
    header = [html.unescape(c) for c in re.findall(r"<th>(.*?)</th>", rows[0])]
    out = {}
    for row in rows[1:]:
        cells = [html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", row)]
        out[cells[0]] = dict(zip(header, cells, strict=True))
    return out


def agreement(page: str) -> list[str]:
    block = re.search(r'<ul class="agreement" id="agreement">(.*?)</ul>', page, re.S)
    assert block, "no agreement in the page"
    return [html.unescape(li) for li in re.findall(r"<li>(.*?)</li>", block.group(1))]


def test_report_of_a_jury_holds_the_jury_numbers_show_prints(answers, openai_server, tmp_path):  # noqa: F811
    openai_server.responder = by_model
    out = mtbench("judge", "--data-dir", answers, "--judge-base-url", openai_server.base_url, "--judge-model",
                  *JUDGES, "--first-n", "2", "--no-progress", env=ENV)
    assert out.returncode == 0, out.stderr
    page_file = tmp_path / "r.html"
    out = mtbench("report", "--data-dir", answers, "--judge-model", *JUDGES, "--out", page_file, "--bootstrap", "300",
                  "--seed", "3")
    assert out.returncode == 0, out.stderr
    page = page_file.read_text()
    assert "jury always8, always4, noisy, single" in page and 'id="radar"' not in page
    got = show_json(answers, "--judge-model", *JUDGES, "--bootstrap", "300", "--seed", "3")
    cells = jury_cells(page)
    assert list(cells) == [r["model"] for r in got["models"]]  # show's order: best jury score first
    for row in got["models"]:
        shown = cells[row["model"]]
        assert shown["jury score"] == f"{row['score']:.2f}"
        assert shown["95% CI"] == f"[{row['ci_low']:.2f}, {row['ci_high']:.2f}]"
        assert row["ci_low"] < row["ci_high"]  # a real interval, not a constant copied twice
        for judge in JUDGES:
            assert shown[f"judge:{judge}"] == f"{row[f'judge:{judge}']:.2f}"
        assert (shown["questions"], shown["judge_failed"]) == ("2*", "0")  # 2 of the 80 questions: partial
    a = got["agreement"]
    lines = agreement(page)
    assert f"Krippendorff's alpha (ordinal) over the scores: {a['krippendorff_alpha_ordinal']:.3f} " \
           f"({a['units']} matches with two or more judges)" in lines[0]
    assert lines[1].startswith(f"effective number of independent judges: {a['effective_judges']:.2f} of 3")
    assert a["effective_judges"] == 1.0  # always8 and always4 never vary: one independent judge is left
    spearman = [f"model rankings, Spearman: {s['a']} vs {s['b']}: " + ("-" if s["rho"] is None else f"{s['rho']:.3f}")
                for s in a["spearman"]]
    assert lines[2:] == spearman and len(spearman) == 3

    # The jury file names the same judges: the same page's numbers.
    jury = jury_file(tmp_path, *(f'[[judge]]\nname = "{j}"\nbase_url = "{openai_server.base_url}"\n' for j in JUDGES))
    again = tmp_path / "again.html"
    out = mtbench("report", "--data-dir", answers, "--jury", jury, "--out", again, "--bootstrap", "300", "--seed", "3")
    assert out.returncode == 0, out.stderr
    assert jury_cells(again.read_text()) == cells and agreement(again.read_text()) == lines


def test_report_refuses_a_jury_with_control_in_one_line(answers, tmp_path):  # noqa: F811
    out = mtbench("report", "--data-dir", answers, "--judge-model", "a", "b", "--control", "length",
                  "--out", tmp_path / "r.html")
    assert out.returncode == 2 and "--control is for one judge's table" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and not (tmp_path / "r.html").exists()


@pytest.mark.timeout(60)  # a browse that took the jury would serve until killed
def test_browse_refuses_a_jury_in_one_line(answers, tmp_path):  # noqa: F811
    jury = jury_file(tmp_path, '[[judge]]\nname = "a"\n', '[[judge]]\nname = "b"\n')
    for given, flag in ((("--judge-model", "a", "b"), "several --judge-model"), (("--jury", str(jury)), "--jury")):
        out = mtbench("browse", "--data-dir", answers, "--port", "0", *given)
        assert out.returncode == 2, out.stderr
        assert f"browse shows one judge at a time, not a jury ({flag})" in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and not out.stdout
