"""Firewall rulesets as data: the model (tables, chains, rules, conditions) and the pure parsers of
``nft -j``/``nft list ruleset``, ``iptables-save`` (legacy and nft), ufw and firewalld files.

Facts (:mod:`hardening.facts.firewall`) use these parsers to read what a host printed; the egress
engine (:mod:`hardening.egress`) judges the parsed rulesets. Neither imports the other's inner
modules in the other direction: facts -> firewall <- egress -> facts.
"""
