export const MIN_PASSWORD_LENGTH = 8;
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export type FieldErrors = Record<string, string[]>;

export function validateCredentials(email: string, password: string): FieldErrors {
  const errors: FieldErrors = {};
  if (!email.trim()) errors.email = ["Email is required."];
  else if (!EMAIL_PATTERN.test(email.trim())) errors.email = ["Enter a valid email address."];
  if (!password) errors.password = ["Password is required."];
  return errors;
}

export function validateNewPassword(password: string, confirmation: string): FieldErrors {
  const errors: FieldErrors = {};
  if (password.length < MIN_PASSWORD_LENGTH)
    errors.new_password = [`The new password must be at least ${MIN_PASSWORD_LENGTH} characters.`];
  if (confirmation !== password) errors.confirm_password = ["The passwords do not match."];
  return errors;
}
