//! The simulation lab behind `gossip sim`: N copies of the real protocol core on the virtual
//! clock, one scenario (topology, strategy, faults) at a time or a grid of them, measured the
//! way the gossip literature measures: coverage over time, rounds, traffic and redundancy.

mod outcome;
mod plot;
mod run;
mod scenario;
mod sweep;

pub use outcome::{CoveragePoint, Outcome, VersionCommit};
pub use plot::{plot_coverage, Curve};
pub use run::run;
pub use scenario::{Amount, Kill, Partition, Scenario, Topology};
pub use crate::core::Strategy;
pub use sweep::{grid, run_grid, sweep_rows, Axis, Setting, Sweep, SweepRow};
