//! Care: everything about a consultation and what surrounds it, confidential content included.

/// Audio calls: signalling over Socket.IO and call state shared by every node.
pub mod calls;
/// Chat beside a consultation (sealed messages, attachments, socket events).
pub mod chat;
/// Clinical notes: the practitioner's own, sealed, every read audited.
pub mod clinical;
/// Uploaded files: type sniffing, sealing, download.
pub mod files;
/// The employee's private journal, sealed.
pub mod journal;
/// A user's notifications.
pub mod notifications;
/// Practitioners: profiles, validation, search.
pub mod practitioners;
/// Scheduling: availability, slots, consultations, rooms.
pub mod scheduling;
