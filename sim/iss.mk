# RV32IM instruction-set simulator of the control core (libspkiss).
$(eval $(call c_lib,spkiss,$(wildcard sim/iss/*.c)))
