"""Response schemas of the processes and devices API (``foresight.web.system_api``).

Every object schema forbids unknown keys; ``foresight.web.responses`` says why.
"""

from __future__ import annotations

from marshmallow import Schema, fields


class ProcessRowSchema(Schema):
    pid = fields.Integer()
    name = fields.String()
    command = fields.String(metadata={"description": "Command line, shortened (may be empty)"})
    cpu_percent = fields.Float(
        allow_none=True,
        metadata={
            "description": "% of ONE core over window_s (top's convention: may pass "
            "100); null on a baseline pass or for a process new since the last"
        },
    )
    memory_percent = fields.Float(metadata={"description": "RSS as % of total RAM"})
    rss_bytes = fields.Integer()


class ProcessesSchema(Schema):
    timestamp = fields.Float(
        allow_none=True, metadata={"description": "Of the pass (null: none yet)"}
    )
    window_s = fields.Float(
        allow_none=True, metadata={"description": "Seconds the CPU figures cover (null: baseline)"}
    )
    every_s = fields.Float(metadata={"description": "Seconds between passes while watched"})
    count = fields.Integer(metadata={"description": "Processes read in the pass"})
    by_cpu = fields.List(fields.Nested(ProcessRowSchema))
    by_memory = fields.List(fields.Nested(ProcessRowSchema))


class FilesystemSchema(Schema):
    mountpoint = fields.String()
    device = fields.String()
    fstype = fields.String()
    total_bytes = fields.Integer()
    used_bytes = fields.Integer()
    free_bytes = fields.Integer(metadata={"description": "Free to unprivileged users"})
    used_percent = fields.Float(metadata={"description": "As df shows it"})


class DiskSchema(Schema):
    name = fields.String()
    charted = fields.Boolean(metadata={"description": "false: loop, ram or zram device"})


class InterfaceSchema(Schema):
    name = fields.String()
    loopback = fields.Boolean()
    virtual = fields.Boolean()
    up = fields.Boolean()
    counted = fields.Boolean(metadata={"description": "In the network totals and charted"})
    reason = fields.String(allow_none=True, metadata={"description": "Why not counted"})


class DevicesSchema(Schema):
    timestamp = fields.Float(allow_none=True, metadata={"description": "Newest sample's time"})
    memory_total_bytes = fields.Integer()
    swap_total_bytes = fields.Integer()
    filesystems = fields.List(fields.Nested(FilesystemSchema))
    disks = fields.List(fields.Nested(DiskSchema))
    interfaces = fields.List(fields.Nested(InterfaceSchema))
    metrics = fields.List(
        fields.String(),
        metadata={
            "description": "Per-device and memory metrics of the newest sample "
            "(<base>:<device>, e.g. net_recv_bytes_per_s:eth0)"
        },
    )
