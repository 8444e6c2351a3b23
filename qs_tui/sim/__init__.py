"""The telemetry simulator: topology, clocks, generator, faults, scenarios, simulated cluster.

Entry points: `qs_tui.sim.cluster.Simulation`, `qs_tui.sim.scenario.load_scenario`,
`qs_tui.sim.seed.seed` and `qs_tui.sim.live.run_live`.
"""
