"""``harden respond``: act on one live incident of a recent hunt (agentless, one host, audited).

The order is fixed and every step can stop the response:

1. :mod:`~hardening.respond.lookup`: the incident id must be in a hunt.json of the last minutes
   (``--max-age``), for that host, hunted fully;
2. a fresh hunt of the host (one round trip) must still show that id: the same root pid with
   the same start time, so a pid reused since is never acted on (:mod:`~hardening.respond.run`);
3. the processes acted on are the incident's members as harden listed them
   (:mod:`~hardening.respond.plan`), confirmed by a person (or ``--yes``);
4. evidence of every process goes to the output directory before anything is done
   (:mod:`~hardening.respond.evidence`);
5. the action script checks each pid's start time again right before it signals or moves it
   (``common.sh``, ``act.sh``); every action is logged (``respond/actions.jsonl``);
6. the host is hunted again and the result shown.
"""
