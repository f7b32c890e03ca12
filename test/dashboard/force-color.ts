/**
Imported first by a test file that checks colours: Ink's colours come from chalk, which reads
FORCE_COLOR once, when it is loaded; off a terminal it writes none otherwise.
*/
process.env.FORCE_COLOR = '1';
