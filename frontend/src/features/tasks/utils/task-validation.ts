export const TITLE_MAX_LENGTH = 200;
const DESCRIPTION_MAX_LENGTH = 10_000;
const TAGS_MAX_COUNT = 20;
const TAG_MAX_LENGTH = 50;

export type TaskFormValues = {
  title: string;
  description: string;
  status: string;
  priority: string;
  dueDate: string;
  tags: string[];
};

/** Mirrors the API's TaskWrite rules so most mistakes are caught before a round trip. */
export function validateTask(values: TaskFormValues): Record<string, string[]> {
  const errors: Record<string, string[]> = {};
  const title = values.title.trim();
  if (!title) errors.title = ["Title is required."];
  else if (title.length > TITLE_MAX_LENGTH) errors.title = [`Title must be at most ${TITLE_MAX_LENGTH} characters.`];
  if (values.description.length > DESCRIPTION_MAX_LENGTH)
    errors.description = [`Description must be at most ${DESCRIPTION_MAX_LENGTH} characters.`];
  const tagErrors: string[] = [];
  if (values.tags.length > TAGS_MAX_COUNT) tagErrors.push(`At most ${TAGS_MAX_COUNT} tags.`);
  if (values.tags.some((tag) => tag.length > TAG_MAX_LENGTH)) tagErrors.push(`Each tag must be at most ${TAG_MAX_LENGTH} characters.`);
  if (tagErrors.length) errors.tags = tagErrors;
  if (values.dueDate && Number.isNaN(new Date(values.dueDate).getTime())) errors.due_date = ["Enter a valid date and time."];
  return errors;
}
