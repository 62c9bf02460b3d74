#!/usr/bin/env python3
"""Writes data/sample/: a small, realistic folder of exported VideoSDK session documents.

Deterministic (fixed seed, stdlib only, gzip without timestamp): running it again gives the same
bytes. Usage, from the repository root or anywhere:

    python3 data/make_sample.py

What it writes (every file analyses cleanly: no rejects):
  v1/meeting-sessions/<id>.json  single sessions in API v1 shape (meetingId, activeDuration)
  v2/sessions/<id>.json          single sessions in API v2 shape (roomId, status), including the
                                 one ongoing session and an early "ongoing" copy of a meeting whose
                                 ended copy is in the page (a duplicate id, resolved by analyze)
  v2/sessions-page-1.json        a v2 page envelope {"pageInfo": ..., "data": [...]}
  export/2021-10-week42.json     a JSON array of sessions
  export/2021-10-week43.ndjson   NDJSON: one session per line, one page envelope line, a blank line
  webinar/<id>.json.gz           a gzip-compressed webinar with a few hundred participants
"""
import datetime as dt
import gzip
import io
import json
import os
import random
import shutil

SEED = 20211019
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "sample")

rng = random.Random(SEED)

SEC = 1000
MIN = 60 * SEC
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))

FIRST = [
    "Ada", "José", "Zoë", "Priya", "Ngozi", "Liam", "Søren", "François", "Ólafur", "Mei",
    "Aarav", "Fatima", "Lukas", "Chloé", "Mateo", "Ingrid", "Kwame", "Anaïs", "Björn", "Sofia",
    "Rahul", "Elena", "Tomasz", "Aiko", "Omar", "Hannah", "Diego", "Yuki", "Nora", "Amara",
]
LAST = [
    "García", "Müller", "Sharma", "Okafor", "O'Brien", "Nielsen", "Dubois", "Sigurðsson", "Chen",
    "Patel", "Haddad", "Schmidt", "Lefèvre", "Rossi", "Johansson", "Mensah", "Novak", "Kowalski",
    "Tanaka", "Hassan", "Weber", "Fernández", "Iyer", "Nakamura", "Adeyemi", "Smith",
]
CJK = ["山田 太郎", "佐藤 花子", "김민준", "王 伟", "鈴木 一郎"]


def hexid():
    return "".join(rng.choice("0123456789abcdef") for _ in range(24))


def room_id():
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "-".join("".join(rng.choice(alphabet) for _ in range(4)) for _ in range(3))


def participant_id():
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(8))


def person_name():
    r = rng.random()
    if r < 0.08:
        return rng.choice(CJK)
    if r < 0.12:
        # "Last, First" as some directories export it: a comma inside the name.
        return f"{rng.choice(LAST)}, {rng.choice(FIRST)}"
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def ts(ms, ist=False):
    """RFC 3339 with milliseconds, in UTC ('Z') or India time ('+05:30')."""
    t = dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)
    if ist:
        t = t.astimezone(IST)
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}+05:30"
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def epoch_ms(year, month, day, hour, minute):
    t = dt.datetime(year, month, day, hour, minute, tzinfo=dt.timezone.utc)
    return int(t.timestamp()) * 1000


class Session:
    def __init__(self, kind, start, room=None):
        self.kind = kind
        self.id = hexid()
        self.room = room or room_id()
        self.start = start
        self.end = None
        self.participants = []  # dicts: participantId, name, timelog [[start, end|None]]

    def add(self, pid, name, entries):
        self.participants.append({"participantId": pid, "name": name, "timelog": entries})


def presence(join, leave, reconnects=0, double=False):
    """Timelog entries for one person present from join to leave, with short drop-outs
    (reconnects) and optionally a second device connected for a while (double connection)."""
    cuts = sorted(rng.randint(join + 1, max(join + 2, leave - 1)) for _ in range(reconnects))
    entries, cur = [], join
    for c in cuts:
        if c <= cur:
            continue
        gap = rng.randint(3 * SEC, 75 * SEC)
        if c + gap >= leave:
            break
        entries.append([cur, c])
        cur = c + gap
    entries.append([cur, leave])
    if double:
        a = rng.randint(join, max(join, leave - 2 * MIN))
        b = min(leave, a + rng.randint(30 * SEC, 6 * MIN))
        entries.append([a, b])
        entries.sort()
    return entries


def finish(s, slack=None):
    last = max(e[1] for p in s.participants for e in p["timelog"])
    s.end = last + (slack if slack is not None else rng.randint(40, 2500))


def one_to_one(start):
    s = Session("one-to-one", start)
    length = rng.randint(4 * MIN, 45 * MIN)
    host_join = start + rng.randint(150, 900)
    guest_join = host_join + rng.randint(2 * SEC, 3 * MIN)
    guest_leave = host_join + length - rng.randint(0, 20 * SEC)
    host_leave = guest_leave + rng.randint(200, 15 * SEC)
    s.add(participant_id(), person_name(), presence(host_join, host_leave))
    s.add(participant_id(), person_name(),
          presence(guest_join, guest_leave, reconnects=1 if rng.random() < 0.3 else 0))
    finish(s)
    return s


def team_meeting(start, size):
    s = Session("team", start)
    length = rng.randint(20 * MIN, 60 * MIN)
    first = start + rng.randint(150, 900)
    for i in range(size):
        join = first if i == 0 else first + rng.randint(0, 6 * MIN)
        leave = first + length - rng.randint(0, 8 * MIN)
        if rng.random() < 0.15:  # left early
            leave = join + rng.randint(5 * MIN, max(5 * MIN + 1, (leave - join) // 2))
        reconnects = rng.choice([0, 0, 0, 1, 1, 2])
        double = rng.random() < 0.15
        name = person_name() if rng.random() > 0.05 else None
        s.add(participant_id(), name, presence(join, leave, reconnects, double))
    # Someone joins from a phone as well: the same participantId appears twice in the list.
    if size >= 4:
        p = s.participants[1]
        lo, hi = p["timelog"][0][0], p["timelog"][-1][1]
        a = rng.randint(lo, max(lo, hi - 3 * MIN))
        s.participants.append({"participantId": p["participantId"], "name": p["name"],
                               "timelog": [[a, min(hi, a + rng.randint(MIN, 5 * MIN))]]})
    finish(s)
    return s


def webinar(start, size):
    s = Session("webinar", start)
    length = rng.randint(75 * MIN, 95 * MIN)
    first = start + rng.randint(150, 900)
    host = participant_id()
    s.add(host, "Dr. " + person_name(), presence(first, first + length, double=True))
    for _ in range(2):
        s.add(participant_id(), person_name(),
              presence(first + rng.randint(5 * SEC, 2 * MIN), first + length - rng.randint(0, MIN)))
    for _ in range(size - 3):
        join = first + int(abs(rng.gauss(0, 6 * MIN)))
        if rng.random() < 0.35:
            leave = join + rng.randint(2 * MIN, length // 2)
        else:
            leave = first + length - int(abs(rng.gauss(0, 4 * MIN)))
        leave = max(join + 30 * SEC, min(leave, first + length))
        name = person_name() if rng.random() > 0.03 else None
        s.add(participant_id(), name,
              presence(join, leave, reconnects=rng.choice([0, 0, 0, 0, 1, 2])))
    finish(s)
    return s


def v1_doc(s, ist=False):
    doc = {
        "id": s.id,
        "meetingId": s.room,
        "start": ts(s.start, ist),
        "end": ts(s.end, ist) if s.end is not None else None,
        # Reported by the API, passed through untouched (and known to be unreliable).
        "activeDuration": max(0, (s.end - s.start) // 1000 - rng.randint(0, 5)) if s.end else 0,
        "chatLink": f"https://api.videosdk.live/v1/meeting-sessions/{s.id}/chat",
        "participants": [participant_doc(p, ist) for p in s.participants],
    }
    return doc


def v2_doc(s, ist=False, status=None):
    doc = {
        "id": s.id,
        "roomId": s.room,
        "start": ts(s.start, ist),
    }
    if s.end is not None:
        doc["end"] = ts(s.end, ist)
    doc["status"] = status or ("ongoing" if s.end is None else "ended")
    doc["participants"] = [participant_doc(p, ist) for p in s.participants]
    doc["links"] = {
        "get_room": f"https://api.videosdk.live/v2/rooms/{s.room}",
        "get_session": f"https://api.videosdk.live/v2/sessions/{s.id}",
    }
    return doc


def participant_doc(p, ist):
    d = {"participantId": p["participantId"]}
    if p["name"] is not None:
        d["name"] = p["name"]
    d["timelog"] = [
        {"start": ts(a, ist), "end": ts(b, ist) if b is not None else None} for a, b in p["timelog"]
    ]
    return d


def dumps(doc, pretty):
    if pretty:
        return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def write(rel, text):
    path = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def write_gz(rel, text):
    path = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as g:
        g.write(text.encode("utf-8"))
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)

    # Business-hours start times over two weeks of October 2021, in time order.
    days = [18, 19, 20, 21, 22, 25, 26, 27, 28]
    slots = []
    for d in days:
        for h in rng.sample([6, 7, 8, 9, 10, 11, 12, 13, 14, 15], 4):
            slots.append(epoch_ms(2021, 10, d, h, rng.randint(0, 59)) + rng.randint(0, 59_999))
    slots.sort()
    rng.shuffle(slots)

    one = [one_to_one(slots.pop()) for _ in range(12)]
    team = [team_meeting(slots.pop(), rng.randint(4, 11)) for _ in range(14)]
    web = webinar(epoch_ms(2021, 10, 27, 12, 30) + 1_234, 320)

    # A standup in a fixed room that is still going on when the folder was exported: no "end",
    # three people still connected ("end": null).
    live = Session("ongoing", epoch_ms(2021, 10, 29, 9, 0) + 18_452, room="dfrt-k2mq-8xzp")
    first = live.start + 412
    for i in range(5):
        join = first + (0 if i == 0 else rng.randint(10 * SEC, 4 * MIN))
        if i < 3:
            entries = [[join, None]]
            if i == 1:  # dropped once, then back
                entries = [[join, join + 7 * MIN], [join + 7 * MIN + 21_000, None]]
        else:
            entries = [[join, join + rng.randint(6 * MIN, 12 * MIN)]]
        live.add(participant_id(), person_name(), entries)
    live.participants[0]["name"] = "山田 太郎"

    # --- v1 single objects: six one-to-one calls, two of them exported with +05:30 offsets.
    for i, s in enumerate(one[:6]):
        write(f"v1/meeting-sessions/{s.id}.json", dumps(v1_doc(s, ist=i in (2, 4)), pretty=True))

    # --- v2 single objects: three team meetings, the ongoing standup, and an early copy of
    # team[6] fetched while it was still running (same id; the ended copy in the page wins).
    for s in team[:3]:
        write(f"v2/sessions/{s.id}.json", dumps(v2_doc(s, status="completed"), pretty=True))
    write(f"v2/sessions/{live.id}.json", dumps(v2_doc(live), pretty=True))
    early = Session("team", team[6].start, room=team[6].room)
    early.id = team[6].id
    cut = team[6].start + (team[6].end - team[6].start) // 2
    for p in team[6].participants:
        entries = []
        for a, b in p["timelog"]:
            if a < cut:
                entries.append([a, b if b < cut else None])
        if entries:
            early.participants.append({**p, "timelog": entries})
    write(f"v2/sessions/{early.id}.json", dumps(v2_doc(early), pretty=True))

    # --- a v2 page envelope with five team meetings.
    page = [team[3], team[4], team[5], team[6], team[7]]
    env = {
        "pageInfo": {"currentPage": 1, "perPage": 20, "lastPage": 1, "total": len(page)},
        "data": [v2_doc(s) for s in page],
    }
    write("v2/sessions-page-1.json", dumps(env, pretty=True))

    # --- a JSON array: three v1 one-to-one calls and three team meetings (one with offsets).
    arr = [v1_doc(s) for s in one[6:9]] + [v2_doc(s, ist=(k == 1)) for k, s in enumerate(team[8:11])]
    write("export/2021-10-week42.json", dumps(arr, pretty=True))

    # --- NDJSON: compact lines, a blank line, and one line holding a one-session page envelope.
    lines = [dumps(v1_doc(s), pretty=False) for s in one[9:12]]
    lines.append("")
    lines += [dumps(v2_doc(s), pretty=False) for s in team[11:13]]
    lines.append(dumps({"pageInfo": {"currentPage": 3, "perPage": 1, "lastPage": 3, "total": 3},
                        "data": [v2_doc(team[13])]}, pretty=False))
    write("export/2021-10-week43.ndjson", "\n".join(lines) + "\n")

    # --- the webinar, gzip-compressed.
    write_gz(f"webinar/{web.id}.json.gz", dumps(v2_doc(web), pretty=False) + "\n")

    sessions = one + team + [web, live]
    print(f"wrote {OUT}: {len(sessions)} sessions "
          f"({len(one)} one-to-one, {len(team)} team meetings, 1 webinar with "
          f"{len(web.participants)} participants, 1 ongoing) + 1 duplicate copy")


if __name__ == "__main__":
    main()
