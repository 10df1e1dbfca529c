"""One stage's deploy: its phases, change sets and polls, the stack events that resume it."""
