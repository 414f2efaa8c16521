"""What `mtbench browse` and `mtbench report` share: safe rendering of untrusted text (``markup``), the
judges a folder has (``judges``), the joined view of questions, answers and judgments (``bench_view``,
``match_view``), the leaderboard from show's report (``board``), the report's page
(``report_page``, ``templates/``) and the browse page's static assets (``static/``)."""
