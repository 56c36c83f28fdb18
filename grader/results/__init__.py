"""What grading leaves behind: the store, the class book, HTML reports, exports, the gradebook, and a
term's adjustments and late policy. Reads results; never runs student code."""
