"""What `mtbench browse` and `mtbench report` share: safe rendering of untrusted text, the joined view
of questions, answers and judgments, and the page's static assets (``static/``)."""
