package audit

// ConflictAttempts is how many conditional writes S3Store.Create makes
// when S3 keeps answering 409, for the tests that count them.
const ConflictAttempts = conflictAttempts
