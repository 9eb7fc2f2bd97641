"""The platform's Avro contract as any spec-following consumer reads it.

Every schema in contracts/avro (the current <topic>.avsc and each history/<topic>/vN.avsc) is keyed by
the CRC-64-AVRO fingerprint of its Parsing Canonical Form, which is what a single-object datum
(0xC3 0x01, fingerprint little-endian, body) names. Nothing here comes from the Go services.
"""

import glob
import io
import json
import os

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

MAGIC = b"\xc3\x01"
TOPICS = ["acme.users.events", "acme.projects.events", "acme.billing.events", "acme.audit.log"]


def _fingerprint(schema):
    # fastavro gives the CRC-64-AVRO as the hex of its little-endian bytes: the header's byte order.
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))


class UnknownFingerprint(Exception):
    pass


class Contracts:
    def __init__(self, root):
        self.current = {}  # topic -> parsed current schema
        self.writers = {}  # fingerprint bytes -> (topic, parsed schema)
        for topic in TOPICS:
            paths = [os.path.join(root, topic + ".avsc")]
            paths += sorted(glob.glob(os.path.join(root, "history", topic, "*.avsc")))
            for i, path in enumerate(paths):
                with open(path) as f:
                    raw = json.load(f)
                fp = _fingerprint(raw)
                parsed = fastavro.parse_schema(raw, named_schemas={})
                if i == 0:
                    self.current[topic] = parsed
                self.writers.setdefault(fp, (topic, parsed))

    def decode(self, topic, data):
        """Reads a single-object datum of topic with the writer schema its fingerprint names."""
        if data[:2] != MAGIC or len(data) < 10:
            raise ValueError("not a single-object datum")
        found = self.writers.get(data[2:10])
        if found is None or found[0] != topic:
            raise UnknownFingerprint(data[2:10].hex())
        return fastavro.schemaless_reader(io.BytesIO(data[10:]), found[1], self.current[topic])

    def encode(self, topic, event):
        """Writes event as a single-object datum of topic's current schema."""
        schema = self.current[topic]
        fp = _fingerprint(schema)
        out = io.BytesIO()
        out.write(MAGIC + fp)
        fastavro.schemaless_writer(out, schema, event)
        return out.getvalue()
