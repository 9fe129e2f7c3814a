"""The integrity report of a competition, for its staff only: pairs of students ranked by code similarity and by
shared wrong answers, identical prediction files, and two students' code side by side with the matching parts
marked. The report is computed in the background (podium.web.tasks.IntegrityReports) and kept on disk; opening it
or a pair is audited (podium.services.integrity)."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, url_for

from podium.services import integrity
from podium.web.access import competition_for_staff, me, role_in, signed_in
from podium.web.context import rt
from podium.web.forms import NOTHING
from podium.web.security import no_store
from podium.web.tasks import IntegrityReports

bp = Blueprint("integrity", __name__, url_prefix="/staff")


@bp.record_once
def keep_reports(state) -> None:
    state.app.extensions.setdefault("podium.integrity", IntegrityReports(state.app.extensions["podium"]))


def reports() -> IntegrityReports:
    return current_app.extensions["podium.integrity"]


def page(template: str, comp, **values):
    return render_template(template, staff=True, role=role_in(comp.course), back=NOTHING, course=comp.course,
                           comp=comp, **values)


@bp.get("/competitions/<cid>/integrity")
@signed_in
@no_store
def report(cid: str):
    comp = competition_for_staff(cid)
    opened = integrity.open_report(rt().db, rt().settings, comp.id, me().email)
    return page("staff/integrity.html", comp, report=opened.report, current=opened.current,
                progress=reports().progress(comp.id))


@bp.post("/competitions/<cid>/integrity")
@signed_in
def compute(cid: str):
    comp = competition_for_staff(cid)
    started = reports().start(comp.id)
    flash("Computing the report; this page shows it when it is ready." if started
          else "The report is being computed already.")
    return redirect(url_for("integrity.report", cid=cid))


@bp.get("/competitions/<cid>/integrity.json")
@signed_in
def progress(cid: str):
    comp = competition_for_staff(cid)
    found = reports().progress(comp.id)
    return jsonify(found.as_dict() if found else {"step": "", "done": 0, "total": 0, "running": False,
                                                   "error": None})


@bp.get("/competitions/<cid>/integrity/code/<int:a>/<int:b>")
@signed_in
@no_store
def pair(cid: str, a: int, b: int):
    comp = competition_for_staff(cid)
    shown = integrity.open_pair(rt().db, rt().settings, comp.id, a, b, me().email)
    return page("staff/integrity_pair.html", comp, shown=shown)
