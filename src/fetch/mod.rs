//! The VideoSDK REST API client (being built).
