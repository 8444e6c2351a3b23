"""Kibana integration: data views, the incidents dashboard and Agent Builder tools.

`client` speaks Kibana's HTTP APIs, `objects` builds what is installed, `setup` installs and
removes it, `cli` is the `qs-tui kibana` command. The package itself imports none of them,
so building the command line costs nothing.
"""
