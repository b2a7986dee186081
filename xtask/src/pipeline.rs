//! Named steps run in order, with one summary line per step, failing fast.
//!
//! Adding a step to `ci` or `bench` is one more `.step("name", || ...)` call.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};

type StepFn<'a> = Box<dyn FnOnce() -> Result<()> + 'a>;

/// An ordered list of named steps.
pub struct Pipeline<'a> {
    name: &'static str,
    steps: Vec<(&'static str, StepFn<'a>)>,
}

impl<'a> Pipeline<'a> {
    /// An empty pipeline called `name` (used in the summary lines).
    pub fn new(name: &'static str) -> Self {
        Pipeline {
            name,
            steps: Vec::new(),
        }
    }

    /// Appends a step.
    pub fn step(mut self, name: &'static str, run: impl FnOnce() -> Result<()> + 'a) -> Self {
        self.steps.push((name, Box::new(run)));
        self
    }

    /// Runs the steps in order; stops at the first failure and names it.
    pub fn run(self) -> Result<()> {
        let total = self.steps.len();
        let started = Instant::now();
        for (index, (name, run)) in self.steps.into_iter().enumerate() {
            let position = index + 1;
            eprintln!("xtask: [{position}/{total}] {} :: {name} ...", self.name);
            let step_started = Instant::now();
            match run() {
                Ok(()) => eprintln!(
                    "xtask: [{position}/{total}] {} :: {name} ok ({})",
                    self.name,
                    seconds(step_started.elapsed())
                ),
                Err(source) => {
                    eprintln!(
                        "xtask: [{position}/{total}] {} :: {name} FAILED ({})",
                        self.name,
                        seconds(step_started.elapsed())
                    );
                    return Err(Error::Step {
                        step: name,
                        source: Box::new(source),
                    });
                }
            }
        }
        eprintln!(
            "xtask: {} passed: {total} step(s) in {}",
            self.name,
            seconds(started.elapsed())
        );
        Ok(())
    }
}

fn seconds(elapsed: Duration) -> String {
    format!("{:.1} s", elapsed.as_secs_f64())
}
