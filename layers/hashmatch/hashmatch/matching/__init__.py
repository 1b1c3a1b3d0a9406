"""Matching policy: every threshold and margin (`policy`), one evidence function per rule (`rules`),
the video alignment rules (`video`) and the `Matcher` that combines them."""
