"""The diagnosis API end to end on a real service: NATS JetStream, PostgreSQL, HTTP."""
import httpx

from otasuke.diagnosis.domain import questionnaire as qn
from otasuke.diagnosis.domain.scoring import Answer, score
from otasuke.events import AggregateRef, Tenant

API = "/api/v1"
Q = qn.current()


def full_answer(question_id: str) -> dict:
    """はい with every item ticked."""
    return {"implemented": True, "items": [i.id for i in Q.question(question_id).items]}


async def events_of(svc, partner, company, diagnosis_id):
    recs, _ = await svc.runtime.store.load(AggregateRef("diagnosis", Tenant(partner, company), "diagnosis", diagnosis_id))
    return [r.envelope for r in recs]


async def test_questionnaire_contract(start_service, auth_headers):
    svc = await start_service("diagnosis")
    async with httpx.AsyncClient(base_url=svc.url) as client:
        assert (await client.get(f"{API}/questionnaire")).status_code == 401
        body = (await client.get(f"{API}/questionnaire", headers=auth_headers("company_admin", partner_id="chubu", company_id="x"))).json()
        schema = (await client.get("/schema/openapi.json")).json()
        ready = (await client.get("/readyz")).json()
    assert {f"{API}/diagnoses/{{diagnosis_id}}/next", f"{API}/statistics"} <= set(schema["paths"])
    assert ready["projections"]["diagnosis.diagnoses"]["lag"] == 0
    assert body["version"] == "2025.1" and body["max_score"] == 1000
    assert len(body["questions"]) == 24
    assert sum(len(q["items"]) for q in body["questions"]) == 98
    first = body["questions"][0]
    assert {"id", "text", "items"} <= set(first) and {"id", "text"} <= set(first["items"][0])
    assert first["why"] and first["terms"][0]["gloss"]
    assert body["ipa_questions"]["25"].startswith("情報セキュリティ対策をルール化")


async def test_walk_through_like_the_help_desk_bot(start_service, auth_headers, register_company, answer_all):
    svc = await start_service("diagnosis")
    await register_company(svc, "chubu", "gifu-seiki", services=("utm",))
    admin = auth_headers("company_admin", partner_id="chubu", company_id="gifu-seiki")
    async with httpx.AsyncClient(base_url=svc.url, timeout=60) as client:
        resp = await client.post(f"{API}/diagnoses", json={"company_id": "gifu-seiki", "industry": "manufacturing",
                                                            "security_action": "two_star"}, headers=admin)
        assert resp.status_code == 201, resp.text
        started = resp.json()
        did = started["id"]
        # The ★★ declaration filled in its promises, marked as such.
        assert started["answers"]["q05"] == {"implemented": True, "items": ["q05a", "q05c"], "auto_filled": True}
        assert set(started["answers"]) == {"q01", "q03", "q05", "q06", "q09", "q10"}

        nxt = (await client.get(f"{API}/diagnoses/{did}/next", headers=admin)).json()
        assert nxt["done"] is False and nxt["progress"]["label"] == "1/24"
        assert nxt["question"]["id"] == "q01" and nxt["prefilled"] is True
        assert nxt["current"]["items"] == ["q01e"]
        assert [c["label"] for c in nxt["choices"]] == ["はい", "いいえ", "わからない"]
        assert nxt["question"]["text"] in nxt["message"] and nxt["question"]["why"] in nxt["message"]

        asked = await answer_all(client, admin, did, lambda q: full_answer(q["id"]))
        assert [n["progress"]["position"] for n in asked] == list(range(1, 25))
        done = (await client.get(f"{API}/diagnoses/{did}/next", headers=admin)).json()
        assert done["done"] is True and done["progress"]["answered"] == 24

        result = (await client.post(f"{API}/diagnoses/{did}/complete", headers=admin)).json()
        assert result["score"] == 1000 and result["band"] == "good"
        assert {a["area"]: a["score"] for a in result["areas"]}["data"] == 100

        html = await client.get(result["report_html"], headers=admin)
        assert html.status_code == 200 and "1000" in html.text and "gifu-seiki 株式会社" in html.text
        pdf = await client.get(result["report_pdf"], headers=admin)
        assert pdf.content.startswith(b"%PDF") and pdf.headers["content-type"] == "application/pdf"

    kinds = [e.type for e in await events_of(svc, "chubu", "gifu-seiki", did)]
    assert kinds[0] == "diagnosis.started" and kinds[-1] == "diagnosis.completed"
    completed = (await events_of(svc, "chubu", "gifu-seiki", did))[-1].data
    assert completed.score == 1000 and completed.questionnaire_version == "2025.1" and len(completed.implemented) == 24
    assert len(completed.ticked_items) == 98 and completed.security_action == "two_star"


async def test_mixed_answers_score_as_the_pure_function_says(start_service, auth_headers, register_company, answer_all):
    svc = await start_service("diagnosis")
    await register_company(svc, "chubu", "ena-foods", industry="hospitality")
    op = auth_headers("operator", partner_id="chubu")
    gates = [True, False, None]
    async with httpx.AsyncClient(base_url=svc.url, timeout=60) as client:
        did = (await client.post(f"{API}/diagnoses", json={"company_id": "ena-foods", "industry": "宿泊業・飲食サービス業"},
                                 headers=op)).json()["id"]

        def choose(q):
            n = q["number"]
            gate = gates[n % 3]
            return {"implemented": gate, "items": [i["id"] for i in q["items"][: n % 4 + 1]] if gate else []}

        asked = await answer_all(client, op, did, choose)
        result = (await client.post(f"{API}/diagnoses/{did}/complete", headers=op)).json()
        detail = (await client.get(f"{API}/diagnoses/{did}", headers=op)).json()
    expected = score(Q, {n["question"]["id"]: Answer(implemented=choose(n["question"])["implemented"],
                                                       items=tuple(choose(n["question"])["items"])) for n in asked})
    assert result["score"] == expected.score
    assert result["unknown"] == expected.ids_with("unknown") and len(result["unknown"]) == 8
    assert detail["industry"] == "hospitality" and detail["status"] == "completed"
    assert detail["result"]["score"] == expected.score


async def test_bad_input_is_refused_with_a_reason_and_nothing_is_lost(start_service, auth_headers, register_company):
    svc = await start_service("diagnosis")
    await register_company(svc, "chubu", "gifu-seiki")
    admin = auth_headers("company_admin", partner_id="chubu", company_id="gifu-seiki")
    op = auth_headers("operator", partner_id="chubu")
    async with httpx.AsyncClient(base_url=svc.url) as client:
        unknown_co = await client.post(f"{API}/diagnoses", json={"company_id": "nobody"}, headers=op)
        assert unknown_co.status_code == 404 and "not registered" in unknown_co.json()["detail"]
        bad_industry = await client.post(f"{API}/diagnoses", json={"company_id": "gifu-seiki", "industry": "pirates"}, headers=admin)
        assert bad_industry.status_code == 422 and "manufacturing" in bad_industry.json()["detail"]
        bad_sa = await client.post(f"{API}/diagnoses", json={"company_id": "gifu-seiki", "security_action": "three"}, headers=admin)
        assert bad_sa.status_code == 400

        did = (await client.post(f"{API}/diagnoses", json={"company_id": "gifu-seiki"}, headers=admin)).json()["id"]
        url = f"{API}/diagnoses/{did}/answers"
        assert (await client.put(f"{url}/q01", json={"implemented": True, "items": ["q01a"]}, headers=admin)).status_code == 200
        cases = [
            ("q99", {"implemented": True}, 422, "unknown question"),
            ("q02", {"implemented": True, "items": ["q01a"]}, 422, "no item"),
            ("q02", {"implemented": False, "items": ["q02a"]}, 422, "only be ticked"),
            ("q02", {"items": []}, 400, "implemented"),
        ]
        for qid, body, status, words in cases:
            resp = await client.put(f"{url}/{qid}", json=body, headers=admin)
            assert resp.status_code == status, resp.text
            assert words in resp.text
        early = await client.post(f"{API}/diagnoses/{did}/complete", headers=admin)
        assert early.status_code == 422 and "23 question(s)" in early.json()["detail"] and "q24" in early.json()["detail"]
        # The valid answer given before the errors is still there.
        kept = (await client.get(f"{API}/diagnoses/{did}", headers=admin)).json()
        assert kept["answers"] == {"q01": {"implemented": True, "items": ["q01a"], "auto_filled": False}}

        for q in Q.questions:
            await client.put(f"{url}/{q.id}", json={"implemented": False}, headers=admin)
        assert (await client.post(f"{API}/diagnoses/{did}/complete", headers=admin)).json()["score"] == 0
        late = await client.put(f"{url}/q01", json={"implemented": True, "items": ["q01a"]}, headers=admin)
        assert late.status_code == 422 and "completed" in late.json()["detail"]


async def test_retries_do_not_duplicate_anything(start_service, auth_headers, register_company):
    svc = await start_service("diagnosis")
    await register_company(svc, "chubu", "gifu-seiki")
    admin = auth_headers("company_admin", partner_id="chubu", company_id="gifu-seiki")
    key = {"Idempotency-Key": "chat-session-42", **admin}
    async with httpx.AsyncClient(base_url=svc.url) as client:
        body = {"company_id": "gifu-seiki", "industry": "manufacturing", "security_action": "one_star"}
        first = (await client.post(f"{API}/diagnoses", json=body, headers=key)).json()
        again = (await client.post(f"{API}/diagnoses", json=body, headers=key)).json()
        assert first["id"] == again["id"]
        did = first["id"]
        for _ in range(2):
            await client.put(f"{API}/diagnoses/{did}/answers/q02", json={"implemented": True, "items": ["q02a"]}, headers=admin)
        # Confirming an auto-filled answer unchanged records the confirmation once.
        for _ in range(2):
            await client.put(f"{API}/diagnoses/{did}/answers/q05", json={"implemented": True, "items": ["q05a", "q05c"]}, headers=admin)
        for q in Q.questions:
            if q.id not in ("q02", "q05"):
                await client.put(f"{API}/diagnoses/{did}/answers/{q.id}", json={"implemented": None}, headers=admin)
        r1 = (await client.post(f"{API}/diagnoses/{did}/complete", headers=admin)).json()
        r2 = (await client.post(f"{API}/diagnoses/{did}/complete", headers=admin)).json()
        assert r1 == r2 and r1["score"] == 10 + 27
        listed = (await client.get(f"{API}/diagnoses", params={"company_id": "gifu-seiki"}, headers=admin)).json()
        assert len(listed) == 1
        # The read model is disposable: rebuilt from the stream, it says the same.
        await svc.runtime.runner("diagnosis.diagnoses").rebuild()
        await svc.runtime.wait_for("diagnosis.diagnoses", await svc.runtime.store.last_seq(
            AggregateRef("diagnosis", Tenant("chubu", "gifu-seiki"), "diagnosis", did)))
        rebuilt = (await client.get(f"{API}/diagnoses", params={"company_id": "gifu-seiki"}, headers=admin)).json()
        assert rebuilt == listed and rebuilt[0]["score"] == 37
    types = [e.type for e in await events_of(svc, "chubu", "gifu-seiki", did)]
    assert types.count("diagnosis.started") == 1 and types.count("diagnosis.completed") == 1
    # started + 5 auto-filled + q02 once + q05 confirmation once + 22 unknown
    assert types.count("diagnosis.answer_recorded") == 5 + 1 + 1 + 22


async def test_tenants_never_see_each_other(start_service, auth_headers, register_company):
    svc = await start_service("diagnosis")
    await register_company(svc, "chubu", "gifu-seiki")
    await register_company(svc, "chubu", "ena-foods")
    await register_company(svc, "kansai", "osaka-print")
    gifu = auth_headers("company_admin", partner_id="chubu", company_id="gifu-seiki")
    ena = auth_headers("company_admin", partner_id="chubu", company_id="ena-foods")
    chubu_op = auth_headers("operator", partner_id="chubu")
    kansai_op = auth_headers("operator", partner_id="kansai")
    async with httpx.AsyncClient(base_url=svc.url) as client:
        did = (await client.post(f"{API}/diagnoses", json={"company_id": "gifu-seiki"}, headers=gifu)).json()["id"]
        for headers in (ena, kansai_op):
            for path in ("", "/next", "/report.html", "/comparison"):
                assert (await client.get(f"{API}/diagnoses/{did}{path}", headers=headers)).status_code == 404
            resp = await client.put(f"{API}/diagnoses/{did}/answers/q01", json={"implemented": False}, headers=headers)
            assert resp.status_code == 404
            assert (await client.post(f"{API}/diagnoses/{did}/complete", headers=headers)).status_code == 404
        # A company admin cannot start for another company; an operator cannot for another partner.
        assert (await client.post(f"{API}/diagnoses", json={"company_id": "ena-foods"}, headers=gifu)).status_code == 404
        assert (await client.post(f"{API}/diagnoses", json={"company_id": "gifu-seiki"}, headers=kansai_op)).status_code == 404
        assert (await client.get(f"{API}/diagnoses", params={"company_id": "gifu-seiki"}, headers=kansai_op)).status_code == 404
        assert (await client.post(f"{API}/companies/gifu-seiki/diagnosis-link", headers=kansai_op)).status_code == 404
        assert (await client.post(f"{API}/companies/gifu-seiki/diagnosis-link", headers=gifu)).status_code == 403
        # The partner's operator can follow its company's diagnosis.
        assert (await client.get(f"{API}/diagnoses/{did}", headers=chubu_op)).status_code == 200
        # Statistics are for partner staff, and only their own companies.
        assert (await client.get(f"{API}/statistics", headers=gifu)).status_code == 403
        kansai = (await client.get(f"{API}/statistics", headers=kansai_op)).json()
        assert kansai["companies_registered"] == 1 and kansai["companies_diagnosed"] == 0
