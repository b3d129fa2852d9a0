// Following documents through their pipeline (Uploaded → Extracting → Indexing → Ready | Failed),
// shared by the chat's attachments and the documents page: the items that have an id and no final
// status yet are looked up again `every` milliseconds after the list last changed, until each is
// Ready or Failed.
import { useEffect } from "preact/hooks";
import { api, enc } from "./api.js";

export const FINAL = ["Ready", "Failed"];

// items: [{key, id, status}]; update(key, patch) merges {status, error} into the item of `key`;
// onSettled(doc) runs once an item's document is Ready or Failed; onError(key, error) when a
// look-up fails (without it the failure is ignored and the item looked up again next time).
export function useDocumentStatus(items, update, { every = 1000, onSettled, onError } = {}) {
  useEffect(() => {
    const open = items.filter((item) => item.id && !FINAL.includes(item.status));
    if (!open.length) return undefined;
    const timer = setTimeout(async () => {
      for (const item of open) {
        try {
          const doc = await api.get(`/api/documents/${enc(item.id)}`, { query: { limit: 1 } });
          update(item.key, { status: doc.status, error: doc.error });
          if (onSettled && FINAL.includes(doc.status)) onSettled(doc);
        } catch (error) {
          if (onError) onError(item.key, error);
        }
      }
    }, every);
    return () => clearTimeout(timer);
  }, [items]);
}
