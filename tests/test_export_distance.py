"""The travel field of API uploads: km in radius mode, minutes otherwise, created before use."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import pytest

from geo.export import (
    BrevoAdapter,
    ExportError,
    KlaviyoAdapter,
    MailchimpAdapter,
    SendGridAdapter,
    dry_run,
    prepare_targets,
    run_export,
)
from geo.export.csv_layouts import (
    API_TRAVEL_FIELDS,
    LAYOUTS,
    api_travel_field,
    manual_import_frame,
)
from geo.export.recipients import fingerprint
from geo.export.runner import export_id_of
from geo.modes import Mode
from tests.fakes import fast_policy, make_targets
from tests.fakes.brevo import FakeBrevo
from tests.fakes.klaviyo import FakeKlaviyo
from tests.fakes.mailchimp import MERGE_TAG, FakeMailchimp
from tests.fakes.sendgrid import FakeSendGrid

N = 10                                             # consented treatment rows of make_targets()
KM = [0.04, 1.26, 2.0, 3.449, 0.96, 12.36, 7.0, 0.5, 4.44, 9.99, 1.0, 1.0, 1.0, 1.0]


def radius_targets() -> pd.DataFrame:
    """make_targets() as a radius campaign: no travel time, crow-flies km per row."""
    return make_targets().assign(mode="radius", travel_min=np.nan, crow_km=KM)


def drive_targets() -> pd.DataFrame:
    return make_targets().assign(crow_km=KM)


@dataclass
class Provider:
    """A started fake, how to build its adapter and how to read one stored field back."""

    name: str
    fake: object
    list_id: str
    make: Callable[..., object]
    value: Callable[[str, str], object]         # (email, provider field) -> stored value
    submit: tuple[str, str]                     # method, path regex of an upload
    field_created: Callable[[str], object]      # provider field -> its type when it exists

    def adapter(self):
        base = self.fake.url + {"mailchimp": "/3.0", "brevo": "/v3"}.get(self.name, "")
        return self.make(self.fake.api_key, base_url=base, policy=fast_policy(), batch_size=4)

    def uploads(self):
        return self.fake.requests(*self.submit)


def _mailchimp() -> Provider:
    fake = FakeMailchimp().start()
    fake.add_list("aud1")

    def created(tag):
        field = fake.lists["aud1"]["merge_fields"].get(tag)
        return field and field["type"]
    return Provider("mailchimp", fake, "aud1", MailchimpAdapter,
                    lambda e, f: fake.member("aud1", e)["merge_fields"].get(f),
                    ("POST", r"/batches$"), created)


def _klaviyo() -> Provider:
    fake = FakeKlaviyo().start()
    fake.add_list("Xy12")
    return Provider("klaviyo", fake, "Xy12", KlaviyoAdapter,
                    lambda e, f: fake.profiles[e]["properties"].get(f),
                    ("POST", r"/profile-bulk-import-jobs$"), lambda f: "free-form")


def _sendgrid() -> Provider:
    fake = FakeSendGrid().start()
    lid = fake.add_list("O2O")

    def value(email, name):
        fids = [fid for fid, f in fake.fields.items() if f["name"] == name]
        return fake.contacts[email]["custom_fields"].get(fids[0]) if fids else None

    def created(name):
        return next((f["field_type"] for f in fake.fields.values() if f["name"] == name), None)
    return Provider("sendgrid", fake, lid, SendGridAdapter, value,
                    ("PUT", r"/marketing/contacts$"), created)


def _brevo() -> Provider:
    fake = FakeBrevo().start()
    lid = fake.add_list("O2O")
    return Provider("brevo", fake, str(lid), BrevoAdapter,
                    lambda e, f: fake.contacts[e]["attributes"].get(f),
                    ("POST", r"/contacts/import$"),
                    lambda f: f in fake.attributes and fake.attributes[f]["type"])


PROVIDERS = {"mailchimp": _mailchimp, "klaviyo": _klaviyo, "sendgrid": _sendgrid, "brevo": _brevo}
#: the distance and minutes field names each provider must receive (email-providers.md rules)
NAMES = {"mailchimp": ("DISTKM", "TRAVELMIN"), "klaviyo": ("distance_km", "travel_minutes"),
         "sendgrid": ("distance_km", "travel_minutes"), "brevo": ("DISTANCE_KM", "TRAVEL_MINUTES")}
TYPES = {"mailchimp": "number", "klaviyo": "free-form", "sendgrid": "Number", "brevo": "float"}


@pytest.fixture(params=sorted(PROVIDERS))
def p(request):
    provider = PROVIDERS[request.param]()
    yield provider
    provider.fake.stop()


def sent_values(p: Provider, field: str) -> list:
    """Values of ``field`` in every uploaded recipient, straight from the request bodies."""
    out = []
    for req in p.uploads():
        body = req.json
        if p.name == "mailchimp":
            out += [json.loads(op["body"])["merge_fields"].get(field)
                    for op in body["operations"] if op["method"] == "PUT"]   # not the tag calls
        elif p.name == "klaviyo":
            out += [x["attributes"]["properties"].get(field)
                    for x in body["data"]["attributes"]["profiles"]["data"]]
        elif p.name == "sendgrid":
            fid = next((i for i, f in p.fake.fields.items() if f["name"] == field), None)
            out += [c["custom_fields"].get(fid) for c in body["contacts"]]
        else:
            out += [c["attributes"].get(field) for c in body["jsonBody"]]
    return out


def test_radius_export_sends_the_distance_in_km(p, tmp_path):
    km_field, minutes_field = NAMES[p.name]
    result = run_export(radius_targets(), p.adapter(), p.list_id, journal=tmp_path / "j.sqlite")
    assert result.complete and result.counts()["accepted"] == N
    for i in range(N):
        assert p.value(f"person{i}@example.com", km_field) == round(KM[i], 1)
        assert p.value(f"person{i}@example.com", minutes_field) is None
    sent = sent_values(p, km_field)
    assert len(sent) == N and all(type(v) is float for v in sent)      # JSON numbers, not text
    assert sorted(sent) == sorted(round(k, 1) for k in KM[:N])
    assert not any(f"{k}" in str(sent) for k in (1.26, 3.449, 12.36))  # one decimal only
    if p.name != "klaviyo":
        assert p.field_created(km_field) == TYPES[p.name]
        assert not p.field_created(minutes_field), "a radius campaign needs no minutes field"


def test_drive_export_still_sends_whole_minutes(p, tmp_path):
    km_field, minutes_field = NAMES[p.name]
    result = run_export(drive_targets(), p.adapter(), p.list_id, journal=tmp_path / "j.sqlite")
    assert result.complete and result.counts()["accepted"] == N
    for i in range(N):
        assert p.value(f"person{i}@example.com", minutes_field) == int(np.rint(3.4 + i))
        assert p.value(f"person{i}@example.com", km_field) is None
    assert all(type(v) is int for v in sent_values(p, minutes_field))
    if p.name != "klaviyo":
        assert p.field_created(minutes_field) == TYPES[p.name]
        assert not p.field_created(km_field), "a drive campaign needs no distance field"


def test_distance_field_is_created_before_the_first_upload(p, tmp_path):
    if p.name == "klaviyo":
        pytest.skip("Klaviyo profile properties are free-form: nothing to create")
    km_field = NAMES[p.name][0]
    run_export(radius_targets(), p.adapter(), p.list_id, journal=tmp_path / "j.sqlite")
    log = p.fake.log
    create = [i for i, r in enumerate(log) if r.method == "POST" and (
        km_field in r.path or (r.body and json.loads(r.body).get("tag") == km_field)
        or (r.body and json.loads(r.body).get("name") == km_field))]
    first_upload = log.index(p.uploads()[0])
    assert len(create) == 1 and create[0] < first_upload
    fields = run_export(radius_targets(), p.adapter(), p.list_id,
                        journal=tmp_path / "other.sqlite", export_id="again").fields
    assert not fields.loc[fields["provider_field"] == km_field, "created"].any()


def test_dry_run_plans_the_field_of_the_mode():
    for name, make in (("mailchimp", MailchimpAdapter), ("klaviyo", KlaviyoAdapter),
                       ("sendgrid", SendGridAdapter), ("brevo", BrevoAdapter)):
        radius = dry_run(radius_targets(), make("k-us6"), "7").summary
        drive = dry_run(drive_targets(), make("k-us6"), "7").summary
        km_field, minutes_field = NAMES[name]
        assert radius["travel_mode"] == "radius" and drive["travel_mode"] == "drive"
        planned = {f["field"]: f["provider_field"] for f in radius["fields"]}
        assert planned["crow_km"].endswith(km_field) and "travel_min" not in planned
        planned = {f["field"]: f["provider_field"] for f in drive["fields"]}
        assert planned["travel_min"].endswith(minutes_field) and "crow_km" not in planned
        sample = json.dumps(radius["sample_payload"]).replace('\\"', '"')
        key = f"<id of {km_field}>" if name == "sendgrid" else km_field   # ids exist once created
        assert f'"{key}": 0.0' in sample and minutes_field not in sample


def test_mixed_modes_are_refused_before_anything_is_sent(tmp_path):
    with FakeBrevo() as fake:
        lid = str(fake.add_list())
        mixed = radius_targets().assign(mode=["radius", "drive"] * 7)
        adapter = BrevoAdapter(fake.api_key, base_url=fake.url + "/v3", policy=fast_policy())
        with pytest.raises(ExportError, match="mixes travel modes"):
            run_export(mixed, adapter, lid, journal=tmp_path / "j.sqlite")
        with pytest.raises(ExportError, match="mixes travel modes"):
            dry_run(mixed, adapter, lid)
        assert fake.log == [] and not (tmp_path / "j.sqlite").exists()


def test_travel_mode_export_ids_are_unchanged_so_interrupted_runs_resume():
    eligible = prepare_targets(drive_targets()).eligible
    for provider in API_TRAVEL_FIELDS:
        # the id an export had before distances were uploaded: recipients' values only
        assert export_id_of(eligible, provider, "L") == fingerprint(eligible, provider, "L")
        moved = eligible.assign(crow_km=eligible["crow_km"] + 5)
        assert export_id_of(moved, provider, "L") == export_id_of(eligible, provider, "L")


def test_radius_export_ids_follow_the_distance_sent():
    eligible = prepare_targets(radius_targets()).eligible
    same = export_id_of(eligible, "mailchimp", "L")
    assert same != fingerprint(eligible, "mailchimp", "L")      # older radius runs sent no km
    nudged = eligible.assign(crow_km=eligible["crow_km"] - 0.001)   # same one-decimal values
    assert export_id_of(nudged, "mailchimp", "L") == same
    moved = eligible.assign(crow_km=eligible["crow_km"] + 0.5)
    assert export_id_of(moved, "mailchimp", "L") != same


def test_api_fields_follow_each_providers_naming_rules():
    for provider, fields in API_TRAVEL_FIELDS.items():
        minutes, km = fields["travel_min"], fields["crow_km"]
        assert api_travel_field(provider, Mode.RADIUS) is km
        assert {api_travel_field(provider, m).name for m in ("drive", "walk", "bike", None)} == \
            {minutes.name}
        assert (minutes.source, km.source) == ("travel_min", "crow_km")
    assert all(MERGE_TAG.match(f.name) for f in API_TRAVEL_FIELDS["mailchimp"].values())
    for provider in ("sendgrid", "brevo"):          # the import files' own spellings
        layout, fields = LAYOUTS[provider], API_TRAVEL_FIELDS[provider]
        assert fields["crow_km"].name == layout.distance_header(Mode.RADIUS)
        assert manual_import_frame(radius_targets(), provider).columns[4] == fields["crow_km"].name
    assert API_TRAVEL_FIELDS["brevo"]["crow_km"].name.isupper()


def test_fakes_enforce_the_contracts_the_distance_field_relies_on():
    with FakeMailchimp() as fake:
        fake.add_list("aud1")
        refused = fake.call("POST", "/3.0/lists/aud1/merge-fields",
                            {"tag": "DISTANCE_KM", "name": "Distance km", "type": "number"})
        assert refused.status == 400 and "10" in json.dumps(refused.body)
    with FakeSendGrid() as fake:
        fid = fake.call("POST", "/v3/marketing/field_definitions",
                        {"name": "distance_km", "field_type": "Number"}).body["id"]
        text = fake.call("PUT", "/v3/marketing/contacts",
                         {"contacts": [{"email": "a@b.io", "custom_fields": {fid: "1.3"}}]})
        assert text.status == 400 and "Number" in text.body["errors"][0]["message"]
        assert fake.call("PUT", "/v3/marketing/contacts", {"contacts": [
            {"email": "a@b.io", "custom_fields": {fid: 1.3}}]}).status == 202
    with FakeBrevo() as fake:
        lid = fake.add_list()
        fake.call("POST", "/v3/contacts/attributes/normal/DISTANCE_KM", {"type": "float"})
        pid = fake.call("POST", "/v3/contacts/import", {"listIds": [lid], "jsonBody": [
            {"email": "a@b.io", "attributes": {"DISTANCE_KM": "1.3", "distance_km": 1.3}},
            {"email": "c@d.io", "attributes": {"DISTANCE_KM": 1.3}}]}).body["processId"]
        while fake.call("GET", f"/v3/processes/{pid}").body["status"] != "completed":
            pass
        assert "DISTANCE_KM" not in fake.contacts["a@b.io"]["attributes"]   # text, lower case
        assert fake.contacts["c@d.io"]["attributes"]["DISTANCE_KM"] == 1.3
