"""The expert pool (server/experts.py): applying, review, suspension, directory."""

from __future__ import annotations

import pytest
from bson import ObjectId


async def _terms_version(client) -> str:
    return (await client.get("/api/terms"))[1]["version"]


async def _application(client, **overrides) -> dict:
    body = {
        "tenant": "t1",
        "name": "Li Ming",
        "contact": {"phone": "13800000001", "email": "li@example.com"},
        "category": "medical_emergency",
        "skills": ["院前急救", "心肺复苏"],
        "qualifications": "Emergency nurse, eight years",
        "accept_terms": True,
        "terms_version": await _terms_version(client),
    }
    body.update(overrides)
    return body


async def _apply(live_server, **overrides) -> tuple[dict, str]:
    """A stored application; returns (its document, its reference)."""
    client = live_server.client()
    status, body = await client.post(
        "/api/expert-applications", await _application(client, **overrides)
    )
    assert status == 201, body
    assert body["status"] == "pending"
    doc = await live_server.platform.db.expert_applications.find_one(
        {"reference": body["reference"]}
    )
    return doc, body["reference"]


async def _decide(admin, application_id, decision, reason=None):
    return await admin.post(
        f"/api/admin/expert-applications/{application_id}/decision",
        {"decision": decision, "reason": reason},
    )


async def test_categories_are_public_and_per_tenant(live_server):
    client = live_server.client()
    status, body = await client.get("/api/expert-categories?tenant=t1")
    assert status == 200 and len(body["categories"]) == 7
    # Two tenants exist: the applicant must choose.
    status, body = await client.get("/api/expert-categories")
    assert (status, body["reason"]) == (400, "tenant_required")
    assert (await client.get("/api/expert-categories?tenant=nope"))[0] == 404


async def test_an_approved_application_becomes_an_expert_who_can_log_in(live_server):
    doc, reference = await _apply(live_server)
    admin = await live_server.signed_in(["admin"], "t1")
    status, body = await admin.get("/api/admin/expert-applications?status=pending")
    assert status == 200
    assert [a["reference"] for a in body["applications"]] == [reference]

    status, body = await _decide(admin, doc["_id"], "approve")
    assert status == 200, body
    account = body["account"]
    assert account["username"].startswith("liming")
    assert body["application"]["status"] == "approved"
    # The password is handed over once: never stored in the clear, never listed.
    _, listed = await admin.get("/api/admin/expert-applications")
    assert account["password"] not in str(listed)

    expert = live_server.client()
    status, body = await expert.post(
        "/api/auth/login",
        {"username": account["username"], "password": account["password"]},
    )
    assert status == 200, body
    assert body["user"]["roles"] == ["expert"]
    assert body["user"]["tenant_id"] == "t1"
    status, body = await expert.get("/api/expert/availability")
    assert (status, body["availability"]) == (200, "available")


async def test_every_decision_is_recorded_with_who_and_when(live_server):
    doc, _ = await _apply(live_server)
    admin = await live_server.signed_in(["admin"], "t1")
    status, body = await _decide(admin, doc["_id"], "more_info", "Which hospital?")
    assert (status, body["application"]["status"]) == (200, "more_info")
    status, body = await _decide(admin, doc["_id"], "approve")
    assert status == 200
    decisions = body["application"]["decisions"]
    assert [d["decision"] for d in decisions] == ["more_info", "approve"]
    assert decisions[0]["reason"] == "Which hospital?"
    for decision in decisions:
        assert decision["by"]["id"] == admin.user["id"]
        assert decision["by"]["name"] == admin.user["name"]
        assert decision["at"]
    # A decided application stays decided.
    status, body = await _decide(admin, doc["_id"], "reject", "Too late")
    assert (status, body["reason"]) == (409, "decided")


async def test_reject_and_more_info_need_a_reason(live_server):
    doc, _ = await _apply(live_server)
    admin = await live_server.signed_in(["admin"], "t1")
    for decision in ("reject", "more_info"):
        status, body = await _decide(admin, doc["_id"], decision, "  ")
        assert (status, body["reason"]) == (400, "decision_reason_required")
    status, body = await _decide(admin, doc["_id"], "reject", "Not a fit")
    assert (status, body["application"]["status"]) == (200, "rejected")
    stored = await live_server.platform.db.expert_applications.find_one(
        {"_id": doc["_id"]}
    )
    assert [d["decision"] for d in stored["decisions"]] == ["reject"]
    assert await live_server.platform.db.users.count_documents({"roles": "expert"}) == 0


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"name": " "}, "name_required"),
        ({"contact": {}}, "contact_required"),
        ({"contact": {"phone": "12ab"}}, "phone_invalid"),
        ({"contact": {"email": "not-an-address"}}, "email_invalid"),
        ({"category": "astrology"}, "category_invalid"),
        ({"skills": []}, "skills_required"),
        ({"skills": ["ok", 7]}, "skill_invalid"),
        ({"qualifications": ""}, "qualifications_required"),
        ({"accept_terms": False}, "terms_required"),
        ({"terms_version": "1999-01"}, "terms_outdated"),
    ],
)
async def test_bad_applications_are_refused_with_a_reason(
    live_server, overrides, reason
):
    client = live_server.client()
    status, body = await client.post(
        "/api/expert-applications", await _application(client, **overrides)
    )
    assert (status, body["reason"]) == (400, reason)
    assert body["message"]
    assert await live_server.platform.db.expert_applications.count_documents({}) == 0


async def test_applications_are_limited_per_address(live_server):
    for number in range(5):
        await _apply(live_server, name=f"Applicant {number}")
    client = live_server.client()
    status, body = await client.post(
        "/api/expert-applications", await _application(client)
    )
    assert (status, body["reason"]) == (429, "too_many_applications")


async def test_the_status_check_needs_the_contact_given(live_server):
    doc, reference = await _apply(live_server)
    client = live_server.client()
    url = f"/api/expert-applications/{reference}"
    status, body = await client.get(url + "?contact=LI@example.com")
    assert (status, body["status"]) == (200, "pending")
    status, body = await client.get(url + "?contact=13800000001")
    assert status == 200 and "contact" not in body
    wrong_contact = await client.get(url + "?contact=13900000000")
    wrong_reference = await client.get(
        "/api/expert-applications/EXP-AAAAAAAA?contact=13800000001"
    )
    no_contact = await client.get(url)
    assert wrong_contact == wrong_reference == no_contact
    assert wrong_contact[0] == 404

    admin = await live_server.signed_in(["admin"], "t1")
    await _decide(admin, doc["_id"], "reject", "Not a fit")
    status, body = await client.get(url + "?contact=13800000001")
    assert body["status"] == "rejected"
    # The applicant reads the reason but not who decided.
    assert body["decisions"][0]["reason"] == "Not a fit"
    assert "by" not in body["decisions"][0]


async def _approved_expert(live_server, admin, **overrides) -> dict:
    doc, _ = await _apply(live_server, **overrides)
    status, body = await _decide(admin, doc["_id"], "approve")
    assert status == 200, body
    return body["account"]


async def test_suspension_ends_the_experts_session_and_is_recorded(live_server):
    admin = await live_server.signed_in(["admin"], "t1")
    account = await _approved_expert(live_server, admin)
    expert = live_server.client()
    await expert.post(
        "/api/auth/login",
        {"username": account["username"], "password": account["password"]},
    )
    assert (await expert.get("/api/auth/me"))[0] == 200

    url = f"/api/admin/experts/{account['user_id']}"
    status, body = await admin.post(url + "/suspend", {"reason": "Complaint"})
    assert (status, body["expert"]["suspended"]) == (200, True)
    assert (await expert.get("/api/auth/me"))[0] == 401
    status, _ = await expert.post(
        "/api/auth/login",
        {"username": account["username"], "password": account["password"]},
    )
    assert status == 401

    status, body = await admin.post(url + "/reinstate")
    assert (status, body["expert"]["suspended"]) == (200, False)
    user = await live_server.platform.db.users.find_one(
        {"_id": ObjectId(account["user_id"])}
    )
    history = user["expert"]["decisions"]
    assert [d["decision"] for d in history] == ["suspend", "reinstate"]
    assert history[0]["reason"] == "Complaint"
    assert all(d["by"]["id"] == admin.user["id"] and d["at"] for d in history)


async def test_the_directory_filters_and_hides_other_tenants(live_server):
    admin = await live_server.signed_in(["admin"], "t1")
    medic = await _approved_expert(live_server, admin, name="Medic")
    lawyer = await _approved_expert(
        live_server, admin, name="Lawyer", category="legal", skills=["刑事诉讼"]
    )
    t2_admin = await live_server.signed_in(["admin"], "t2")
    await _approved_expert(live_server, t2_admin, tenant="t2", name="Other")
    await live_server.platform.db.rooms.insert_one(
        {"tenant_id": "t1", "members": [{"user_id": medic["user_id"]}]}
    )

    officer = await live_server.signed_in(["officer"], "t1")
    status, body = await officer.get("/api/experts")
    assert status == 200
    assert sorted(e["name"] for e in body["experts"]) == ["Lawyer", "Medic"]
    _, body = await officer.get("/api/experts?category=legal")
    assert [e["id"] for e in body["experts"]] == [lawyer["user_id"]]
    _, body = await officer.get("/api/experts?skill=心肺复苏")
    (found,) = body["experts"]
    assert found["id"] == medic["user_id"]
    assert (found["availability"], found["consultations"]) == ("available", 1)

    # The expert sets availability; the directory shows it.
    expert = live_server.client()
    await expert.post(
        "/api/auth/login",
        {"username": lawyer["username"], "password": lawyer["password"]},
    )
    status, body = await expert.post("/api/expert/availability", {"availability": "x"})
    assert (status, body["reason"]) == (400, "availability_invalid")
    await expert.post("/api/expert/availability", {"availability": "busy"})
    _, body = await officer.get("/api/experts?category=legal")
    assert body["experts"][0]["availability"] == "busy"

    # A suspended expert leaves the officers' directory.
    await admin.post(f"/api/admin/experts/{lawyer['user_id']}/suspend")
    _, body = await officer.get("/api/experts")
    assert [e["name"] for e in body["experts"]] == ["Medic"]


async def test_roles_and_tenants_limit_the_review(live_server):
    doc, _ = await _apply(live_server)
    officer = await live_server.signed_in(["officer"], "t1")
    status, body = await _decide(officer, doc["_id"], "approve")
    assert (status, body["reason"]) == (403, "role")
    assert (await officer.get("/api/admin/expert-applications"))[0] == 403
    expert = await live_server.signed_in(["expert"], "t1")
    assert (await expert.get("/api/experts"))[0] == 403

    t2_admin = await live_server.signed_in(["admin"], "t2")
    status, _ = await _decide(t2_admin, doc["_id"], "approve")
    assert status == 404
    _, body = await t2_admin.get("/api/admin/expert-applications")
    assert body["applications"] == []
    t1_admin = await live_server.signed_in(["admin"], "t1")
    account = await _approved_expert(live_server, t1_admin, name="Zhang")
    status, _ = await t2_admin.post(f"/api/admin/experts/{account['user_id']}/suspend")
    assert status == 404
    stored = await live_server.platform.db.expert_applications.find_one(
        {"_id": doc["_id"]}
    )
    assert (stored["status"], stored["decisions"]) == ("pending", [])


async def test_a_failed_account_creation_leaves_the_application_to_retry(
    live_server, monkeypatch, expect_errors
):
    doc, _ = await _apply(live_server)
    admin = await live_server.signed_in(["admin"], "t1")
    experts = live_server.platform.experts
    create = experts._create_account

    async def broken(application):
        raise RuntimeError("account store down")

    monkeypatch.setattr(experts, "_create_account", broken)
    expect_errors("Uncaught exception POST /api/admin/expert-applications", "500 POST")
    status, _ = await _decide(admin, doc["_id"], "approve")
    assert status == 500
    stored = await live_server.platform.db.expert_applications.find_one(
        {"_id": doc["_id"]}
    )
    assert (stored["status"], stored["decisions"]) == ("pending", [])
    monkeypatch.setattr(experts, "_create_account", create)
    status, body = await _decide(admin, doc["_id"], "approve")
    assert status == 200 and body["application"]["status"] == "approved"
