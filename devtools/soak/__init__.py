"""``make soak``: hundreds of connections through the local pipeline for a simulated day, with faults at random.

Two runs, each on a fresh embedded AWS seeded identically (same fleets, same resource ids,
same metrics): a fault-free reference, and the soak. The soak fires the real scheduler once
per simulated hour and drains both queues through the real collector and calculator, while
``devtools.faults`` throttles, fails and drops AWS calls at random, DynamoDB leaves
items unprocessed, invocations time out mid-batch, roles refuse AssumeRole for a few hours,
SQS delivers duplicates and one region goes down for some hours. When the faulty hours are
over it keeps firing the hourly schedule, fault-free, until the watermark has re-queued every
incomplete hour, then redrives whatever is left in the dead-letter queues as an operator would.

It then checks the ledger against the reference: every connection-hour stored exactly once
(the same usage, emission and roll-up items under the same keys), every hour's status
complete, the same totals, and empty dead-letter queues. The figures go to stdout; progress to
stderr. The exit status is non-zero when a check fails.

Time is simulated: each hourly run fires at its hour's end, and the status records it writes
carry that time, so the look-back watermark sees hours go by without waiting for them.
"""

from devtools.soak.checks import Check, check
from devtools.soak.ledger import Ledger, read_ledger
from devtools.soak.options import SoakOptions
from devtools.soak.pair import run_soak, soak_hours
from devtools.soak.run import RunResult
from devtools.soak.summary import render

__all__ = ["Check", "Ledger", "RunResult", "SoakOptions", "check", "read_ledger", "render", "run_soak", "soak_hours"]
