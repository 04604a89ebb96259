//! Scheduling: availability, free slots, consultations and their lifecycle, Jitsi rooms,
//! attendance events.

pub mod slots;
