//! The job planner (filled in below).
