"""The Eval pages: every suite's runs, and one run's report (its table, paired differences, chart and
cells), built from run.json and the ledger as ``specrelay eval report`` builds it (nothing is written)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from specrelay.app import evalrender
from specrelay.app.evalreport import build_report, list_runs

if TYPE_CHECKING:
    from specrelay.web.site import Site


def routes(site: Site) -> list[BaseRoute]:
    """The GET routes of the Eval pages."""

    def runs_page(request: Request) -> Response:
        return site.page(request, "eval.html", runs=list_runs(site.root))

    def run_page(request: Request) -> Response:
        report = build_report(site.root, request.path_params["suite"], request.path_params["run_id"])
        return site.page(request, "eval_run.html", report=report, columns=evalrender.COLUMNS,
                         numeric=evalrender.NUMERIC, rows=[evalrender.workflow_row(w) for w in report.workflows],
                         pair_columns=evalrender.PAIR_COLUMNS, pairs=[evalrender.pair_row(p) for p in report.pairs],
                         chart=Markup(evalrender.chart_svg(report)),  # every text in it is escaped
                         money=evalrender.money)

    return [Route("/eval", runs_page), Route("/eval/{suite}/{run_id}", run_page)]
